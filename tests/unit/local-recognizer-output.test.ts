/**
 * pocketsphinx_continuous -time yes output: the hypothesis line, then one line per word with its times and
 * posterior probability. The final's text is the hypothesis; its confidence the last two real words' posterior.
 */
import { describe, expect, it } from 'vitest';
import { parseRecognition } from '../../src/providers/stt/local-recognizer.js';

describe('parseRecognition', () => {
  it('takes the hypothesis as text and the last two words\' posterior as confidence, skipping markers and fillers', () => {
    const out = [
      "i'd like to but far",
      '<s> 0.000 0.180 0.999700',
      "i'd 0.190 0.470 0.314354",
      'like 0.480 0.780 0.960401',
      'to(3) 0.790 0.930 0.735036',
      'but 0.940 1.120 0.119332',
      'far 1.130 1.570 0.410244',
      '<sil> 1.580 1.600 0.990000',
      '[NOISE] 1.600 1.620 0.900000',
      '</s> 1.580 1.650 1.000000',
      '',
    ].join('\n');
    const r = parseRecognition(out);
    expect(r.text).toBe("i'd like to but far");
    expect(r.confidence).toBeCloseTo((0.119332 + 0.410244) / 2, 6);
  });

  it('clamps posteriors above 1 (pocketsphinx prints 1.000300) and gives null with no word lines', () => {
    expect(parseRecognition('please\n<s> 0.000 0.190 1.000300\nplease 1.980 2.400 1.000100\n</s> 2.410 2.490 1.000000\n').confidence).toBe(1);
    expect(parseRecognition('hello there\n')).toEqual({ text: 'hello there', confidence: null });
    expect(parseRecognition('')).toEqual({ text: '', confidence: null });
  });
});
