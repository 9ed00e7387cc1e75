/**
 * A second, acoustic look at a name the language model turned into everyday words: the pocketsphinx
 * counterpart of picking, from the n-best, the hypothesis that parses as a name. When a final holds a name slot
 * (the answer to a name question, or the words after "my name is") and a word of it is not a plausible name
 * ("sam one", "came brown"), the same audio is decoded again with a grammar: the words around the slot exactly as
 * heard, and in the slot either the heard words or a listed first name and surname (local-names.ts). The grammar
 * weighs every name alike, so the audio alone decides. Its answer replaces the slot only when it sounds like what
 * was heard (phoneme distance, local-names.ts) — a real name that is not listed ("you know blade" for Hugo Blake)
 * is never forced onto a listed one that merely fits the grammar.
 */
import { randomUUID } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { everydayWords, plausibleName } from './local-lm-corpus.js';
import { FIRST_NAMES, SURNAMES, phonemeDistance, pronunciationsIn, soundsAlike, type Pronunciations } from './local-names.js';
import { PocketsphinxProcess, type RecognizerOptions } from './local-recognizer.js';

export interface NameSlot {
  before: string[];
  slot: string[];
  after: string[];
}

/** What introduces a name: anywhere for "my name is", only at the start of an answer to a name question for the rest. */
const STRONG_CUES = [['my', 'name', 'is'], ['my', "name's"], ['name', 'is'], ['call', 'me']];
const ANSWER_CUES = [['this', 'is'], ["it's"], ['it', 'is'], ["i'm"], ['i', 'am'], ['the', 'name', 'is']];
const LEAD_INS = new Set(['yes', 'yeah', 'sure', 'okay', 'ok', 'well', 'um', 'uh', 'hi', 'hello']);
/** Words that end a name ("… sam wood and my number is …"). */
const ENDS_NAME = new Set(['and', 'my', 'phone', 'number', 'please', 'thanks', 'thank', 'i', "i'd", "i'm", 'from', 'for', 'at', 'tomorrow', 'today']);

const startsWith = (words: string[], at: number, cue: string[]): boolean => cue.every((w, i) => words[at + i] === w);

/**
 * The name slot of a recognized text (lower case words), or null when there is none or every word of it is a
 * plausible name already. `asked`: the utterance answers a name question (recognition-context.ts).
 */
export function findNameSlot(text: string, asked: boolean): NameSlot | null {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  let start = -1;
  for (let i = 0; i < words.length && start < 0; i++) {
    for (const cue of STRONG_CUES) if (startsWith(words, i, cue)) start = i + cue.length;
  }
  if (start < 0 && asked) {
    let i = 0;
    while (LEAD_INS.has(words[i] ?? '')) i++;
    start = i;
    for (const cue of ANSWER_CUES) if (startsWith(words, i, cue)) start = i + cue.length;
  }
  if (start < 0 || start >= words.length) return null;
  let end = start;
  while (end < words.length && end - start < 2 && !ENDS_NAME.has(words[end]!) && /^[a-z']+$/.test(words[end]!)) end++;
  const slot = words.slice(start, end);
  if (!slot.length || slot.every(plausibleName)) return null;
  return { before: words.slice(0, start), slot, after: words.slice(end) };
}

/** A JSGF word: the dictionary's spelling, which must be a plain token. */
const jsgfWord = (w: string): boolean => /^[a-z][a-z'.-]*$/.test(w);

/**
 * The grammar for a second decode of the slot: the words around it as heard; in it, the heard words or a listed
 * first name with an optional listed surname. Null when a word around the slot cannot be written in JSGF.
 * `known`: the words the decoding dictionary has (names it lacks are left out).
 */
export function nameSlotGrammar(s: NameSlot, known: (word: string) => boolean): string | null {
  if (![...s.before, ...s.slot, ...s.after].every(jsgfWord)) return null;
  const everyday = everydayWords();
  // A listed name that is also a word callers say ("will", "may") would let the grammar swap words for nothing.
  const names = (list: readonly string[]): string => [...new Set(list)].filter((w) => known(w) && jsgfWord(w) && !everyday.has(w)).join(' | ');
  const seq = (ws: string[]): string => ws.join(' ');
  return [
    '#JSGF V1.0;',
    'grammar nameslot;',
    `public <utterance> = ${seq(s.before)} ( ${seq(s.slot)} | <first> [ <last> ] ) ${seq(s.after)};`,
    `<first> = ${names(FIRST_NAMES)};`,
    `<last> = ${names(SURNAMES)};`,
    '',
  ].join('\n');
}

/**
 * The text with the slot as the second decode heard it, when that is a name that sounds like the words first heard;
 * otherwise null (keep the first decode).
 */
export function acceptNameSlot(s: NameSlot, second: string, dict: Pronunciations): string | null {
  const words = second.toLowerCase().split(/\s+/).filter(Boolean);
  const n = words.length - s.before.length - s.after.length;
  if (n < 1 || n > 2) return null;
  const slot = words.slice(s.before.length, s.before.length + n);
  if (slot.join(' ') === s.slot.join(' ')) return null;
  if (!slot.every((w) => FIRST_NAMES.includes(w) || SURNAMES.includes(w))) return null;
  const sounds = (ws: string[]): string[] | null => {
    const out: string[] = [];
    for (const w of ws) {
      const p = dict.get(w)?.[0];
      if (!p) return null;
      out.push(...p);
    }
    return out;
  };
  const heard = sounds(s.slot);
  const named = sounds(slot);
  if (!heard || !named || !soundsAlike(phonemeDistance(heard, named), heard.length)) return null;
  return [...s.before, ...slot, ...s.after].join(' ');
}

/**
 * `text` with its name slot decoded again from `audio` against the grammar, or `text` as it was when that finds no
 * listed name that sounds like the words heard, or fails (the first decode stands). `first` are the options the
 * first decode ran with (its `-dict` is reused); `extra` the caller's own arguments (-hmm, …), which stay.
 */
export async function nameSecondLook(text: string, slot: NameSlot, audio: Int16Array, first: RecognizerOptions, extra: string[]): Promise<string> {
  const at = first.args.indexOf('-dict');
  const dictPath = at >= 0 ? first.args[at + 1] : undefined;
  const dict = dictPath ? await pronunciationsIn(dictPath) : null;
  const grammar = dict ? nameSlotGrammar(slot, (w) => dict.has(w)) : null;
  if (!dict || !dictPath || !grammar) return text;
  const file = join(tmpdir(), `parley-name-${randomUUID()}.gram`);
  try {
    await writeFile(file, grammar);
    const second = new PocketsphinxProcess({ ...first, args: ['-jsgf', file, '-dict', dictPath, ...extra] });
    second.write(audio);
    const heard = await second.finish();
    return acceptNameSlot(slot, heard.text, dict) ?? text;
  } catch {
    return text;
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
