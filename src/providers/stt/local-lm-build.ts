/**
 * Builds a bot's language model for pocketsphinx: the caller corpus (local-lm-corpus.ts) with the bot's terms,
 * tokenised into the words the installed pronouncing dictionary knows, estimated as a back-off trigram model
 * (local-lm-arpa.ts), written next to a dictionary holding just those words (a small dictionary also loads faster
 * than the 130 000-word one). A term word the dictionary lacks ("Zumba") is left out: pocketsphinx could not
 * say it anyway, and the rest of the term still biases the recognizer.
 *
 * Synchronous and CPU-bound (about a second on a busy machine): run it in a worker (local-lm-worker.ts).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { estimateArpa } from './local-lm-arpa.js';
import type { ExpectedInput } from '../types.js';
import { answerCorpus, callerCorpus, type CorpusSentence } from './local-lm-corpus.js';
import { GENERIC_LM, readGenericModel } from './local-lm-generic.js';
import { FIRST_NAMES, SURNAMES } from './local-names.js';

export const DEFAULT_DICTIONARY = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict';

export interface BuildRequest {
  terms: string[];
  /** The installed pronouncing dictionary (its words and pronunciations). */
  dictionary: string;
  /** Folder the files go to; `<key>.lm` and `<key>.dict` are written there. */
  dir: string;
  key: string;
  /** The generic model whose most frequent words are mixed in (default: the installed en-us one). */
  genericLm?: string;
  /** How many of its most frequent words (0 = none), and its weight in the mix. Default 5000 and 0.15 (chosen on held-out sentences and names, scripts/bench/wer.ts). */
  genericWords?: number;
  genericWeight?: number;
  /**
   * A model for the answer to one kind of question (recognition-context.ts): the answers' corpus, with the bot's
   * corpus as `botShare` of the text (default 0.15) and the generic model at `genericWeight` (default 0.05 here).
   */
  expected?: ExpectedInput;
  botShare?: number;
}

export interface BuiltModel {
  lm: string;
  dict: string;
  words: number;
  /** Term words the dictionary has no pronunciation for. */
  unknown: string[];
}

const NUMBER_WORDS: Record<string, string> = {
  0: 'zero', 1: 'one', 2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six', 7: 'seven', 8: 'eight', 9: 'nine',
};

/** Words as the recognizer writes them: lower case, digits spelt, punctuation gone, apostrophes kept. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/&/g, ' and ')
    .replace(/\d/g, (d) => ` ${NUMBER_WORDS[d]} `)
    .replace(/[^a-z' ]+/g, ' ')
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter(Boolean);
}

/** word → its pronunciation lines ("word PH ON ES", "word(2) …"), read once per build. */
function readDictionary(path: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const head = line.slice(0, space);
    const word = head.replace(/\(\d+\)$/, '');
    const list = entries.get(word);
    if (list) list.push(line);
    else entries.set(word, [line]);
  }
  return entries;
}

const mass = (corpus: CorpusSentence[]): number => corpus.reduce((sum, s) => sum + s.weight * (s.text.split(' ').length + 1), 0);

/**
 * The bot's corpus, or for an expected answer: the answers' corpus, with a smaller sample of the bot's corpus as
 * `botShare` of the text. The shares come from the number of sentences, not from weights: every answer counts
 * once, so the estimator's discount still leaves room for names in combinations it has not seen.
 */
function corpusFor(req: BuildRequest, dictionary: Map<string, string[]>): CorpusSentence[] {
  if (!req.expected) return callerCorpus(req.terms);
  const bot = callerCorpus(req.terms, 1500);
  const share = Math.min(0.9, Math.max(0.05, req.botShare ?? 0.15));
  const spelling = commonSpelling(dictionary);
  const sample = answerCorpus(req.expected, 1000, spelling);
  const size = Math.round(((mass(bot) * (1 - share)) / share / mass(sample)) * 1000);
  return [...answerCorpus(req.expected, Math.min(60_000, Math.max(1000, size)), spelling), ...bot];
}

/**
 * A listed name that sounds like one listed before it ("ana" like "anna", "sara" like "sarah": they share a
 * pronunciation) → that earlier, more common, spelling. The recognizer cannot tell
 * them apart, and an answer model that knew both would write one at random. First names and surnames apart.
 */
function commonSpelling(dictionary: Map<string, string[]>): (name: string) => string {
  const sounds = (w: string): string[] => (dictionary.get(w) ?? []).map((line) => line.slice(line.indexOf(' ') + 1).trim());
  const same = new Map<string, string>();
  for (const list of [FIRST_NAMES, SURNAMES]) {
    const byName = new Map<string, string>();
    for (const name of list) {
      const own = sounds(name);
      const earlier = own.map((sound) => byName.get(sound)).find((n) => n !== undefined && n !== name);
      if (earlier !== undefined) same.set(name, earlier);
      for (const sound of own) if (!byName.has(sound)) byName.set(sound, name);
    }
  }
  return (name) => same.get(name) ?? name;
}

export function buildLanguageModel(req: BuildRequest): BuiltModel {
  const dictionary = readDictionary(req.dictionary);
  const unknown = new Set<string>();
  for (const t of req.terms) for (const w of tokenize(t)) if (!dictionary.has(w)) unknown.add(w);
  const sentences: string[][] = [];
  const weights: number[] = [];
  for (const { text, weight } of corpusFor(req, dictionary)) {
    // An unknown word splits the sentence: the pieces on either side stay good n-gram evidence.
    let piece: string[] = [];
    const flush = (): void => {
      if (piece.length) {
        sentences.push(piece);
        weights.push(weight);
      }
      piece = [];
    };
    for (const w of tokenize(text)) {
      if (dictionary.has(w)) piece.push(w);
      else flush();
    }
    flush();
  }
  const generic = req.genericWords === 0 ? null : readGenericModel(req.genericLm ?? GENERIC_LM, { words: req.genericWords ?? 5000, accept: (w) => dictionary.has(w) });
  const background = generic ? { model: generic, weight: req.genericWeight ?? (req.expected ? 0.05 : 0.15) } : undefined;
  const model = estimateArpa(sentences, weights, background);
  const dictLines: string[] = [];
  for (const w of model.vocabulary) dictLines.push(...dictionary.get(w)!);
  mkdirSync(req.dir, { recursive: true });
  const lm = join(req.dir, `${req.key}.lm`);
  const dict = join(req.dir, `${req.key}.dict`);
  // Written under temporary names and renamed, so a concurrent reader never sees half a file.
  writeFileSync(`${dict}.${process.pid}.tmp`, `${dictLines.join('\n')}\n`);
  writeFileSync(`${lm}.${process.pid}.tmp`, model.arpa);
  renameSync(`${dict}.${process.pid}.tmp`, dict);
  renameSync(`${lm}.${process.pid}.tmp`, lm);
  return { lm, dict, words: model.vocabulary.length, unknown: [...unknown] };
}
