/**
 * Names matched by sound (src/bookings/name-sound.ts): a name heard as ordinary words becomes the listed name it
 * sounds like; a listed name, or a real name we do not list, is left as heard. Uses the installed pronouncing
 * dictionary (pocketsphinx-en-us, which the local recognizer needs anyway) for the real words, and a tiny
 * hand-written one for the distance itself.
 */
import { describe, expect, it } from 'vitest';
import { installedPronunciations, soundMatchName } from '../../src/bookings/name-sound.js';
import { plausibleName } from '../../src/providers/stt/local-lm-corpus.js';
import { namePronunciations, parsePronunciations, phonemeDistance } from '../../src/providers/stt/local-names.js';

const dict = await installedPronunciations();
if (!dict) throw new Error('the pronouncing dictionary (pocketsphinx-en-us) is not installed');

describe('phoneme distance', () => {
  it('is cheap between similar sounds and dear between different ones', () => {
    expect(phonemeDistance(['K', 'EY', 'T'], ['K', 'EY', 'T'])).toBe(0);
    // T/D differ only in voicing.
    expect(phonemeDistance(['T', 'AA', 'M'], ['D', 'AA', 'M'])).toBeCloseTo(0.4);
    // A consonant for a vowel is a whole edit.
    expect(phonemeDistance(['K', 'EY', 'T'], ['K', 'S', 'T'])).toBe(1);
    // Neighbouring vowels cost less than vowels far apart.
    expect(phonemeDistance(['AH'], ['UH'])).toBeLessThan(phonemeDistance(['EY'], ['AA']));
    expect(phonemeDistance([], ['AH'])).toBe(0.5);
  });

  it('reads cmudict lines, alternates and stress marks included', () => {
    const d = parsePronunciations('kate K EY1 T\nread R IY1 D\nread(2) R EH1 D\n');
    expect(d.get('kate')).toEqual([['K', 'EY', 'T']]);
    expect(d.get('read')).toEqual([['R', 'IY', 'D'], ['R', 'EH', 'D']]);
  });

  it('reads the big dictionary lazily: the listed names up front, other words when asked, alternates apart included', () => {
    const text = "a AH\na's EY Z\na(2) EY\ncame K EY1 M\nkate K EY1 T\nread R EH1 D\nread's R EH1 D Z\nread(2) R IY1 D\n";
    const d = namePronunciations(text);
    expect(d.get('kate')).toEqual([['K', 'EY', 'T']]);
    expect(d.get('a')).toEqual([['AH'], ['EY']]);
    expect(d.get('read')).toEqual([['R', 'EH', 'D'], ['R', 'IY', 'D']]);
    expect(d.has('came')).toBe(true);
    expect(d.has('zebra')).toBe(false);
    // A listed name the dictionary lacks.
    expect(d.get('brown')).toBeUndefined();
  });
});

describe('names matched by sound', () => {
  it('maps a name heard as everyday words to the listed name it sounds like', () => {
    expect(soundMatchName('came brown', dict)).toBe('Kate Brown');
    expect(soundMatchName('Came Down', dict)).toMatch(/^Kate /);
  });

  it('leaves a listed name alone, even one that sounds like another listed name', () => {
    for (const name of ['kate brown', 'donna hardy', 'mary lopez', 'john smith', 'anna lee', 'tom']) expect(soundMatchName(name, dict)).toBeNull();
  });

  it('never turns a real name we do not list into a listed one', () => {
    for (const name of ['hugo blake', 'irma pratt', 'felix norton', 'wendy marsh', 'gavin doyle', 'ingrid bauer', 'oscar quinn', 'edith frost', 'peter pan']) {
      expect(soundMatchName(name, dict)).toBeNull();
    }
    // A short form of a listed name is a name of its own.
    expect(soundMatchName('dan brown', dict)).toBeNull();
  });

  it('leaves words with no listed name close to them as heard', () => {
    expect(soundMatchName('it is uh', dict)).toBeNull();
    expect(soundMatchName('something', dict)).toBeNull();
  });

  it('tells everyday words from plausible names', () => {
    expect(plausibleName('came')).toBe(false);
    expect(plausibleName('one')).toBe(false);
    expect(plausibleName('hugo')).toBe(true);
    expect(plausibleName('Kate')).toBe(true);
  });
});
