/**
 * A name as a recognizer misheard it, matched by sound against the common-names list (local-names.ts): "came brown"
 * → "Kate Brown". Each word of the heard name that is neither a listed name nor a plausible name of its own is
 * compared, phoneme by phoneme, with the listed first names (first word) or surnames (later words); the closest
 * one within a small distance replaces it. Phonemes come from the recognizer's own pronouncing dictionary
 * (pocketsphinx's cmudict, so a heard word always has them); substitutions between similar phonemes (T/D, M/N,
 * one vowel for another) are cheap, others cost a whole edit.
 *
 * "A plausible name of its own" is a word callers do not otherwise say: one outside the everyday vocabulary of the
 * recognizer's corpus (local-lm-corpus.ts). "Hugo", "Blake" or "Pratt" are kept as heard; "came", "one", "don't"
 * are words a misheard name turns into. The guided flow still reads a corrected name back, so a caller can say no.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_DICTIONARY } from '../providers/stt/local-lm-build.js';
import { plausibleName } from '../providers/stt/local-lm-corpus.js';
import { editDistance } from './flow/fuzzy.js';
import { nameVariants } from './name-variants.js';
import { FIRST_NAMES, SURNAMES, namePronunciations, phonemeDistance, soundsAlike, type Pronunciations } from '../providers/stt/local-names.js';

let installed: Promise<Pronunciations | null> | null = null;

/** The installed dictionary, read once (null when it is not installed: then names are left as heard). */
export function installedPronunciations(): Promise<Pronunciations | null> {
  installed ??= readFile(DEFAULT_DICTIONARY, 'utf8').then(namePronunciations, () => null);
  return installed;
}

// ---------- matching ----------

const isPrefix = (a: readonly string[], b: readonly string[]): boolean => a.length < b.length && a.every((p, i) => p === b[i]);

const closestOf = (list: readonly string[], heard: readonly string[][], dict: Pronunciations): { name: string; cost: number } | null => {
  let best: { name: string; cost: number } | null = null;
  for (const name of list) {
    for (const p of dict.get(name) ?? []) {
      for (const h of heard) {
        // A short form of a longer name ("will" / "willie", "dan" / "danny") is a name the caller may well use.
        if (isPrefix(h, p) || isPrefix(p, h)) continue;
        const cost = phonemeDistance(h, p);
        // The list runs from more to less common: of two equally close, the earlier wins.
        if (soundsAlike(cost, h.length) && (!best || cost < best.cost)) best = { name, cost };
      }
    }
  }
  return best;
};

const uniqueFirst = [...new Set(FIRST_NAMES)];
const uniqueLast = [...new Set(SURNAMES)];

/**
 * The listed name that a heard name most likely was, or null when it stays as heard (every word a listed or
 * plausible name, or nothing close enough). Words keep their order; a word with no close listed name stays.
 */
export function soundMatchName(heard: string, dict: Pronunciations): string | null {
  const words = heard.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length || words.every(plausibleName)) return null;
  let changed = false;
  const out = words.map((w, i) => {
    if (plausibleName(w)) return w;
    const sounds = dict.get(w);
    if (!sounds) return w;
    const hit = closestOf(i === 0 ? uniqueFirst : uniqueLast, sounds, dict);
    if (!hit) return w;
    changed = true;
    return hit.name;
  });
  if (!changed) return null;
  return out.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

// ---------- one name against another ----------

const nameWordsOf = (name: string): string[] =>
  name.toLowerCase().replace(/ё/g, 'е').replace(/[^\p{L}\s'-]/gu, ' ').split(/[\s-]+/).map((w) => w.replace(/'/g, '')).filter(Boolean);

/** Two words of a name the same as a recognizer may write them: equal, alike by sound, or (no sounds) one letter apart. */
function sameNameWord(a: string, b: string, dict: Pronunciations | null): boolean {
  if (a === b) return true;
  const pa = dict?.get(a);
  const pb = dict?.get(b);
  if (pa && pb) return pa.some((x) => pb.some((y) => soundsAlike(phonemeDistance(x, y), Math.min(x.length, y.length))));
  return Math.min(a.length, b.length) >= 4 && editDistance(a, b) <= 1;
}

/**
 * Whether the name a caller gave is the name on a booking (a second factor where there is no caller ID): the
 * first names alike, and the last ones too when both have more than one word. Words are compared by sound with
 * the recognizer's dictionary (the same phoneme distance as soundMatchName: "Ann" / "Anna", "Catherine" /
 * "Katherine"), else by spelling; first names also as forms of one name (name-variants.ts: "Bob" / "Robert",
 * "Маша" / "Мария"). A booking with no name matches nothing.
 */
export function sameName(said: string, onBooking: string | null, dict: Pronunciations | null): boolean {
  const a = nameWordsOf(said);
  const b = nameWordsOf(onBooking ?? '');
  if (!a.length || !b.length) return false;
  if (!nameVariants(a[0]!, b[0]!) && !sameNameWord(a[0]!, b[0]!, dict)) return false;
  return a.length < 2 || b.length < 2 || sameNameWord(a[a.length - 1]!, b[b.length - 1]!, dict);
}
