/**
 * Is the caller done? Judged from the words recognised so far, once the VAD says the caller has gone quiet.
 * `EndOfTurnModel` is the seam a real turn-detection model (Smart Turn, a text classifier) can implement later;
 * `RuleEndOfTurn` is a transparent per-language rule set: a sentence that ends on a word that cannot end a
 * sentence ("for", "and", "um", "в", "на"), or while a number is being dictated, is unfinished and waits longer.
 */
import type { Language } from '../providers/types.js';

export type TurnCompleteness = 'complete' | 'unfinished';

export interface EndOfTurnVerdict {
  completeness: TurnCompleteness;
  /** Why (for tests and logs): the rule that decided. */
  rule: string;
}

export interface EndOfTurnModel {
  judge(text: string, language: Language): EndOfTurnVerdict;
}

/** Words after which an English sentence is not over: fillers, conjunctions, prepositions, articles, auxiliaries. */
const EN_UNFINISHED = new Set([
  // fillers and hesitations
  'um', 'uh', 'uhm', 'er', 'erm', 'like',
  // conjunctions
  'and', 'or', 'but', 'so', 'because', 'cause', 'if', 'then', 'than', 'when', 'while', 'although', 'whether',
  // prepositions
  'for', 'to', 'at', 'on', 'in', 'of', 'with', 'from', 'by', 'about', 'into', 'onto', 'until', 'till', 'between',
  'via', 'per',
  // articles and possessives
  'a', 'an', 'the', 'my', 'your', 'our', 'their', 'every', 'each',
  // openings that need a continuation ("my name is…", "I'd…", "we're gonna…")
  "i'd", "i'm", "i'll", "we'd", "we're", "we'll", 'is', 'are', 'i', 'we', 'wanna', 'gonna', 'let', "let's",
]);

/** The same for Russian: союзы, предлоги, частицы, начала фраз. */
const RU_UNFINISHED = new Set([
  'э', 'эм', 'ээ', 'мм', 'ну', 'вот', 'типа', 'бы',
  'и', 'а', 'но', 'или', 'чтобы', 'потому', 'если', 'когда', 'пока', 'хотя', 'либо', 'ли',
  'в', 'во', 'на', 'к', 'ко', 'с', 'со', 'у', 'о', 'об', 'обо', 'от', 'до', 'по', 'за', 'из', 'под', 'над', 'при',
  'про', 'для', 'без', 'через', 'между', 'около', 'возле',
  'мой', 'моя', 'моё', 'мои', 'наш', 'наша', 'ваш', 'ваша', 'хочу', 'хотел', 'хотела', 'хотим', 'мне', 'нам',
  'нужно', 'надо', 'очень', 'давайте',
]);

/** Words of a dictated number (digits spoken one by one, or a phone number in groups). */
const NUMBER_WORDS = new Set([
  'zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'double', 'triple',
  'ноль', 'один', 'одна', 'два', 'две', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять', 'десять',
]);

const QUESTION_OR_STOP = /[.?!…]["'»)]*$/u;
const TRAILING_COMMA = /[,:;\-–—]$/u;

export class RuleEndOfTurn implements EndOfTurnModel {
  judge(text: string, language: Language): EndOfTurnVerdict {
    const trimmed = text.trim();
    if (!trimmed) return { completeness: 'unfinished', rule: 'empty' };
    // Ellipses and dashes are how recognizers (and people) write a trailing-off sentence.
    if (/(\.\.\.|…)$/u.test(trimmed)) return { completeness: 'unfinished', rule: 'ellipsis' };
    if (TRAILING_COMMA.test(trimmed)) return { completeness: 'unfinished', rule: 'trailing punctuation' };
    const words = trimmed
      .toLowerCase()
      .split(/\s+/)
      .map((w) => w.replace(/^[^\p{L}\p{N}']+|[^\p{L}\p{N}']+$/gu, ''))
      .filter(Boolean);
    const last = words[words.length - 1] ?? '';
    const unfinished = language === 'ru' ? RU_UNFINISHED : EN_UNFINISHED;
    if (unfinished.has(last)) return { completeness: 'unfinished', rule: `ends with "${last}"` };
    if (isDictatedNumber(words)) return { completeness: 'unfinished', rule: 'number being dictated' };
    if (QUESTION_OR_STOP.test(trimmed)) return { completeness: 'complete', rule: 'sentence punctuation' };
    return { completeness: 'complete', rule: 'ends on a content word' };
  }
}

/** Three or more trailing digit groups or number words ("five five five one two"), or digits with a trailing group of 1–3. */
function isDictatedNumber(words: string[]): boolean {
  let run = 0;
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i]!;
    if (/^\d{1,4}$/.test(w) || NUMBER_WORDS.has(w)) run++;
    else break;
  }
  return run >= 3;
}

export const ruleEndOfTurn: EndOfTurnModel = new RuleEndOfTurn();
