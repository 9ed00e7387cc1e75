/**
 * Matching that survives a recognizer: a service named in a whole utterance, by name or alias, tolerant to
 * misheard words ("ninety be mounted" ≈ "TV mounted", "стрижку" ≈ "стрижка"). Token by token: exact, shared
 * stem, edit distance and a small phonetic key; a service scores the mean over its own words, and at least one
 * of its words must be heard well (an anchor), so "at ten" never matches "tap repair".
 */
import type { BookingService } from '../config-schema.js';

export const normalizeText = (s: string): string =>
  s.toLowerCase().replace(/ё/g, 'е').replace(/[’‘]/g, "'").replace(/[^\p{L}\p{N}\s']/gu, ' ').replace(/\s+/g, ' ').trim();

const STOP = new Set([
  'a', 'an', 'the', 'for', 'to', 'my', 'on', 'of', 'and', 'or', 'in', 'at', 'me', 'i', 'get', 'have', 'it', 'is', 'please',
  'на', 'в', 'во', 'для', 'мне', 'хочу', 'и', 'с', 'к', 'по', 'я', 'меня', 'бы',
]);

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

const CYR: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ж: 'zh', з: 'z', и: 'i', й: 'i', к: 'k', л: 'l', м: 'm', н: 'n', о: 'o',
  п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'h', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'sh', ъ: '', ы: 'y', ь: '', э: 'e',
  ю: 'u', я: 'a',
};

/** A crude sound key (consonant skeleton after common English spelling rules; Cyrillic transliterated first). */
export function phoneticKey(word: string): string {
  let w = [...word.toLowerCase()].map((c) => CYR[c] ?? c).join('').replace(/[^a-z]/g, '');
  if (!w) return '';
  w = w
    .replace(/^kn|^gn|^pn|^wr/, (m) => m.slice(1))
    .replace(/ph/g, 'f').replace(/ck/g, 'k').replace(/c(?=[eiy])/g, 's').replace(/c/g, 'k').replace(/q/g, 'k')
    .replace(/x/g, 'ks').replace(/z/g, 's').replace(/v/g, 'f').replace(/dg/g, 'j').replace(/gh/g, '')
    .replace(/th/g, 't').replace(/sh|ch/g, 's').replace(/d/g, 't').replace(/b/g, 'p').replace(/g/g, 'k').replace(/f/g, 'p');
  const first = w[0]!;
  const rest = w.slice(1).replace(/[aeiouyhw]/g, '');
  return (first + rest).replace(/(.)\1+/g, '$1');
}

function tokenSim(a: string, b: string): number {
  if (a === b) return 1;
  const min = Math.min(a.length, b.length);
  if (min >= 4 && (a.startsWith(b.slice(0, Math.max(4, b.length - 3))) || b.startsWith(a.slice(0, Math.max(4, a.length - 3))))) return 0.9;
  const sim = 1 - editDistance(a, b) / Math.max(a.length, b.length);
  const pa = phoneticKey(a);
  const pb = phoneticKey(b);
  const phon = pa.length >= 2 && pa === pb ? 0.85 : 0;
  return Math.max(sim, phon);
}

const LETTER_NAMES: Record<string, string> = {
  a: 'ay', b: 'bee', c: 'see', d: 'dee', e: 'ee', f: 'ef', g: 'jee', h: 'aitch', i: 'eye', j: 'jay', k: 'kay', l: 'el', m: 'em',
  n: 'en', o: 'oh', p: 'pee', q: 'cue', r: 'ar', s: 'es', t: 'tee', u: 'you', v: 'vee', w: 'double you', x: 'ex', y: 'why', z: 'zee',
};

/** An abbreviation ("tv", "pc") as it sounds, against the ends of the heard words ("ninety be" ends in "ty be"). */
function abbreviationSim(abbr: string, heard: string[]): number {
  const key = phoneticKey([...abbr].map((c) => LETTER_NAMES[c] ?? c).join(''));
  if (key.length < 2) return 0;
  let best = 0;
  for (let i = 0; i < heard.length; i++) {
    for (const joined of [heard[i]!, heard[i]! + (heard[i + 1] ?? '')]) {
      for (let k = 0; k + 2 <= joined.length; k++) {
        const suffix = phoneticKey(joined.slice(k));
        if (suffix === key) best = Math.max(best, 0.75);
      }
    }
  }
  return best;
}

const isAbbreviation = (w: string): boolean => w.length <= 3 && /^[a-z]+$/.test(w) && !/[aeiou]/.test(w);

const contentWords = (s: string): string[] => normalizeText(s).split(' ').filter((w) => w && !STOP.has(w));

export interface ServiceMatch {
  service: BookingService;
  score: number;
  /** The name or alias that matched. */
  matched: string;
}

/** Best service for an utterance, with its score (0..1), or null when nothing is heard well enough. */
export function findServiceInUtterance(utterance: string, services: readonly BookingService[], minScore = 0.6): ServiceMatch | null {
  const heard = contentWords(utterance);
  if (!heard.length) return null;
  // Joined neighbours too: "hair cut" ≈ "haircut".
  const candidates = [...heard];
  for (let i = 0; i + 1 < heard.length; i++) candidates.push(heard[i]! + heard[i + 1]!);
  let best: ServiceMatch | null = null;
  for (const service of services) {
    for (const name of [service.name, ...(service.aliases ?? []), service.id.replace(/[_.-]+/g, ' ')]) {
      const words = contentWords(name);
      if (!words.length) continue;
      let sum = 0;
      let anchor = 0;
      for (const w of words) {
        let top = 0;
        for (const h of candidates) top = Math.max(top, tokenSim(w, h));
        if (top < 0.75 && isAbbreviation(w)) top = Math.max(top, abbreviationSim(w, heard));
        sum += top;
        if (top >= 0.85 && w.length >= 3) anchor++;
      }
      if (!anchor) continue;
      // A whole multi-word name heard well beats a one-word alias heard equally well.
      const score = sum / words.length + 0.01 * Math.min(anchor, 3);
      if (score >= minScore && (!best || score > best.score)) best = { service, score, matched: name };
    }
  }
  return best;
}
