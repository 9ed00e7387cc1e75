/**
 * The local recognizer with a bot's own language model: a session opened with keyterms builds the model in a
 * worker thread (once, cached on disk) and decodes with it; the salon fixture is recognized at least as well as
 * with the generic model, and a bot's service word the generic model misses is in the bot's vocabulary.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { speakInto } from '../helpers/local-stt-utterance.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import { wordErrorRate } from '../../src/audio/wer.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import type { SttEvent } from '../../src/providers/types.js';

const fixture = (name: string): Int16Array =>
  wavToPcm16(readWav(readFileSync(fileURLToPath(new URL(`../fixtures/speech/${name}`, import.meta.url)))));
const transcripts = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/speech/transcripts.json', import.meta.url)), 'utf8')) as Record<string, string>;

async function recognize(provider: LocalSttProvider, keyterms: string[], audio: Int16Array): Promise<string> {
  const stt = await provider.open({ format: WIDEBAND_FORMAT, language: 'en', keyterms, signal: new AbortController().signal });
  await speakInto(stt, audio);
  const texts: string[] = [];
  for await (const e of stt.events as AsyncIterable<SttEvent>) {
    if (e.type === 'final') texts.push(e.text);
    if (e.type === 'final' || e.type === 'utterance_end' || e.type === 'error') break;
  }
  await stt.close();
  return texts.join(' ');
}

describe('local STT with the bot\'s language model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-lm-it-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the model from the keyterms in a worker and recognizes the fixture with it', async () => {
    const models = new LanguageModelCache({ dir });
    const provider = new LocalSttProvider({ languageModels: models, languageModelWaitMs: 60_000, prewarm: false });
    const terms = ['Bright Smile Salon', 'Haircut', 'Coloring', 'Anna'];
    const audio = fixture('book-slt.wav');
    const biased = await recognize(provider, terms, audio);
    const generic = await recognize(new LocalSttProvider({ languageModels: false, prewarm: false }), [], audio);
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.lm'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.dict'))).toHaveLength(1);
    const dict = readFileSync(join(dir, files.find((f) => f.endsWith('.dict'))!), 'utf8');
    expect(dict).toMatch(/^haircut /m);
    const reference = transcripts['book-slt.wav']!;
    expect(wordErrorRate(reference, biased).wer).toBeLessThanOrEqual(wordErrorRate(reference, generic).wer);
    expect(wordErrorRate(reference, biased).wer).toBeLessThanOrEqual(0.2);
    // The same terms again: the model on disk is reused, nothing is rebuilt.
    await recognize(provider, [...terms].reverse(), audio);
    expect(readdirSync(dir)).toEqual(files);
  }, 120_000);
});
