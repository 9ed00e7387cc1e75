/**
 * Is the caller done? Judged once the VAD says the caller has gone quiet, from the words recognised so far, the
 * pitch of the last voiced audio, and the recognizer's confidence where it reports one. `EndOfTurnModel` is the
 * seam a real turn-detection model (Smart Turn on the audio, a text classifier) can implement later: it gets the
 * same input and returns the same verdict. `RuleEndOfTurn` is the transparent default, a documented score:
 *
 *   text   (per language)  ends on a word that cannot end a sentence ("for", "and", "um", "в", "на", a relative
 *                          pronoun after the first word: "a doctor who"), trails off
 *                          ("…", ","), is only an opener ("well", "actually", "ну"), a number is
 *                          being dictated or has just begun ("my number is five", "the code … is
 *                          seven"), or a word is being spelled ("s m i")       0.15
 *                          ends on "two" / "four" after a word that is not a number (a recognizer's
 *                          "to" / "for"), or on a lone letter after words (a piece of a word the
 *                          pause cut: "a cleaning n…"); below the complete mark even with a
 *                          falling pitch, since only the next words can tell      0.40
 *                          ends on a content word                              0.70
 *                          ends with . ? ! (a punctuating recognizer)          0.85
 *   prosody (prosody.ts)   falling into the end (≤ −0.8 st over the last ~300 ms and ending ≥ 0.5 st below the
 *                          utterance's median pitch)                          +0.15
 *                          level or rising, unless the words form a question (a rise is how many questions end)
 *                                                                             −0.25
 *                          too little voiced audio to tell                      0
 *   recognizer             confidence < 0.6 on its final (Deepgram's; locally the last two words' posterior) −0.30
 *
 *   score ≥ 0.60 → complete: answer after `endOfTurnCompleteWaitMs` (default 0: the VAD's 200 ms is the wait)
 *   score ≥ 0.35 → uncertain: wait UNCERTAIN_SHARE of `endOfTurnMaxWaitMs` (900 ms of the default 1500) — a
 *                  sentence that reads complete but does not sound it, or a garbled final
 *   below        → unfinished: wait up to `endOfTurnMaxWaitMs`
 *
 * A new onset cancels any wait. The text decides most turns; prosody is the tie-breaker for words that read
 * complete, which is exactly where the recognizer's mistakes land ("i'd like to but far" for "I'd like to book
 * for…"). Measured on flite speech (docs/live-call.md): prosody alone separates statement ends from mid-sentence
 * pauses only about three times in four, so it never overrides an unfinished text on its own. The pitch is read
 * (`readProsody`) only where it could move the verdict across a mark: not for a confident `.?!`, not for an
 * unfinished text.
 */
import type { Language } from '../providers/types.js';
import type { ProsodyFeatures } from './prosody.js';

export type TurnCompleteness = 'complete' | 'uncertain' | 'unfinished';

export interface EndOfTurnInput {
  /** The words recognised so far in this turn. */
  text: string;
  language: Language;
  /**
   * Reads the pitch of the last voiced audio (prosody.ts); returns null, or is absent, where there is no audio to
   * analyse. Called only when the pitch could change the verdict: the analysis (~0.5 ms of the call loop) is the
   * costliest part of a judgement, and a punctuating recognizer's words decide most turns alone.
   */
  readProsody?: () => ProsodyFeatures | null;
  /** The recognizer's confidence in its last final, 0–1, where it reports one. */
  confidence?: number | null;
}

export interface EndOfTurnVerdict {
  completeness: TurnCompleteness;
  /** How likely the caller is done, 0–1 (the rules' score; a model's probability). */
  score: number;
  /** Why (for tests and logs): the rules that decided. */
  rule: string;
}

export interface EndOfTurnModel {
  judge(input: EndOfTurnInput): EndOfTurnVerdict;
}

/** The share of `endOfTurnMaxWaitMs` an uncertain verdict waits. */
export const UNCERTAIN_SHARE = 0.6;
export const COMPLETE_AT = 0.6;
export const UNCERTAIN_AT = 0.35;

/** Falling into the end: the fitted pitch line drops at least this much over the last ~300 ms… */
const FALL_SLOPE_ST = -0.8;
/** …and ends at least this far below the utterance's median pitch. */
const FALL_BELOW_MEDIAN_ST = -0.5;
const LOW_CONFIDENCE = 0.6;
const UNSURE_PENALTY = -0.3;
const FALLING_BONUS = 0.15;
/** Level or rising where the words are not a question. */
const LEVEL_PENALTY = -0.25;

/** Words after which an English sentence is not over: fillers, conjunctions, prepositions, articles, auxiliaries. */
const EN_UNFINISHED = new Set([
  // fillers and hesitations
  'um', 'uh', 'uhm', 'er', 'erm', 'hmm', 'like',
  // conjunctions
  'and', 'or', 'but', 'so', 'because', 'cause', 'if', 'than', 'when', 'while', 'although', 'whether',
  // prepositions
  'for', 'to', 'at', 'on', 'in', 'of', 'with', 'from', 'by', 'about', 'into', 'onto', 'until', 'till', 'between',
  'via', 'per', 'after', 'before', 'during', 'except', 'near', 'behind', 'under', 'around', 'through', 'without',
  'as', 'since', 'against', 'toward', 'towards', 'within', 'across', 'beside',
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

const EN_RELATIVE = new Set(['who', 'whose', 'which', 'whom']);
const RU_RELATIVE = new Set(['который', 'которая', 'которое', 'которые', 'которого', 'которой', 'которую', 'которым']);

/** Words that open a turn rather than make one: alone, the caller has not said anything yet. */
const DISCOURSE_OPENERS = new Set([
  'well', 'actually', 'anyway', 'basically', 'also', 'now', 'look', 'listen',
  'ну', 'вот', 'значит', 'короче', 'слушайте', 'смотрите', 'кстати', 'так',
]);

/** Number words a recognizer writes for a function word that sounds the same. */
const EN_NUMBER_HOMOPHONES = new Map([
  ['two', 'to'],
  ['four', 'for'],
]);

const QUESTION_OR_STOP = /[.?!…]["'»)]*$/u;
const TRAILING_COMMA = /[,:;\-–—]$/u;

export class RuleEndOfTurn implements EndOfTurnModel {
  judge(input: EndOfTurnInput): EndOfTurnVerdict {
    const text = textVerdict(input.text, input.language);
    const unsure = input.confidence != null && input.confidence < LOW_CONFIDENCE;
    const withoutPitch = text.score + (unsure ? UNSURE_PENALTY : 0);
    const question = looksLikeQuestion(input.text, input.language);
    const levelPenalty = question ? 0 : LEVEL_PENALTY;
    const pitchMatters =
      completenessOf(withoutPitch + FALLING_BONUS) !== completenessOf(withoutPitch) ||
      completenessOf(withoutPitch + levelPenalty) !== completenessOf(withoutPitch);
    const prosody = pitchMatters ? (input.readProsody?.() ?? null) : null;
    const pitch = pitchVerdict(prosody);
    const movement = pitch ? ` (${pitchFigures(prosody!)})` : '';
    const reasons = [text.rule];
    let score = withoutPitch;
    if (pitch === 'falling') {
      score += FALLING_BONUS;
      reasons.push(`pitch falls into the end${movement}`);
    } else if (pitch === 'level') {
      score += levelPenalty;
      reasons.push(question ? `pitch not falling, a question${movement}` : `pitch not falling${movement}`);
    }
    if (unsure) reasons.push(`recognizer unsure (${input.confidence!.toFixed(2)})`);
    score = Math.min(1, Math.max(0, score));
    return { completeness: completenessOf(score), score, rule: reasons.join('; ') };
  }
}

function completenessOf(score: number): TurnCompleteness {
  return score >= COMPLETE_AT ? 'complete' : score >= UNCERTAIN_AT ? 'uncertain' : 'unfinished';
}

/** The words alone: how likely a sentence that ends like this is over. */
export function textVerdict(text: string, language: Language): { score: number; rule: string } {
  const trimmed = text.trim();
  if (!trimmed) return { score: 0, rule: 'empty' };
  // Ellipses and dashes are how recognizers (and people) write a trailing-off sentence.
  if (/(\.\.\.|…)$/u.test(trimmed)) return { score: 0.15, rule: 'ellipsis' };
  if (TRAILING_COMMA.test(trimmed)) return { score: 0.15, rule: 'trailing punctuation' };
  const words = wordsOf(trimmed);
  const last = words[words.length - 1] ?? '';
  const unfinished = language === 'ru' ? RU_UNFINISHED : EN_UNFINISHED;
  if (unfinished.has(last)) return { score: 0.15, rule: `ends with "${last}"` };
  // "a doctor who…", "the one which…": a relative pronoun after the first word opens a clause ("Who?" alone asks).
  if (words.length > 1 && (language === 'ru' ? RU_RELATIVE : EN_RELATIVE).has(last)) return { score: 0.15, rule: `ends with "${last}"` };
  if (words.every((w) => DISCOURSE_OPENERS.has(w))) return { score: 0.15, rule: 'only an opener ("well", "actually")' };
  if (isWholeNumber(words)) return { score: 0.85, rule: 'a whole phone number' };
  if (isDictatedNumber(words)) return { score: 0.15, rule: 'number being dictated' };
  if (isDictationStarting(words)) return { score: 0.15, rule: 'a number begun' };
  if (isBeingSpelled(words)) return { score: 0.15, rule: 'being spelled' };
  // A lone letter after words is a recognizer's piece of a word cut by the pause ("a cleaning n…" for "and").
  if (language === 'en' && words.length > 1 && isLetter(last)) return { score: 0.4, rule: `ends on a lone letter "${last}"` };
  // A recognizer hears an unstressed "to" / "for" before a pause as the number: "i'd like to book four".
  const before = words[words.length - 2] ?? '';
  if (language === 'en' && EN_NUMBER_HOMOPHONES.has(last) && !NUMBER_WORDS.has(before) && !/^\d+$/.test(before)) {
    return { score: 0.4, rule: `ends with "${last}" (or "${EN_NUMBER_HOMOPHONES.get(last)}")` };
  }
  if (QUESTION_OR_STOP.test(trimmed)) return { score: 0.85, rule: 'sentence punctuation' };
  return { score: 0.7, rule: 'ends on a content word' };
}

/** 'falling' (a statement's end), 'level' (level or rising), or null (too little voiced audio). */
export function pitchVerdict(p: ProsodyFeatures | null): 'falling' | 'level' | null {
  if (!p || p.finalSlopeSt === null || p.finalVsMedianSt === null) return null;
  return p.finalSlopeSt <= FALL_SLOPE_ST && p.finalVsMedianSt <= FALL_BELOW_MEDIAN_ST ? 'falling' : 'level';
}

/** "−1.2 st over the end, −0.8 st against the median": the figures behind a pitch verdict, for the transcript. */
function pitchFigures(p: ProsodyFeatures): string {
  const st = (v: number | null) => `${v !== null && v > 0 ? '+' : ''}${(v ?? 0).toFixed(1)} st`;
  return `${st(p.finalSlopeSt)} over the end, ${st(p.finalVsMedianSt)} against the median`;
}

const EN_QUESTION = /^(what|when|where|who|whom|whose|which|why|how|do|does|did|is|are|was|were|can|could|will|would|shall|should|may|might|have|has|had|am)$/;
const RU_QUESTION = /^(что|когда|где|кто|какой|какая|какое|какие|почему|зачем|как|сколько|можно|ли|куда|откуда|чей)$/;

const OPENERS = new Set(['um', 'uh', 'er', 'so', 'and', 'well', 'okay', 'ok', 'oh', 'э', 'эм', 'ну', 'а', 'и', 'так']);

/** A question mark, or a first word (after an "um", "so", "ну") that opens a question: a rising end is expected. */
function looksLikeQuestion(text: string, language: Language): boolean {
  if (/\?["'»)]*\s*$/u.test(text)) return true;
  const words = wordsOf(text);
  const first = words.find((w) => !OPENERS.has(w)) ?? '';
  return (language === 'ru' ? RU_QUESTION : EN_QUESTION).test(first) || (language === 'ru' && words.includes('ли'));
}

function wordsOf(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}']+|[^\p{L}\p{N}']+$/gu, ''))
    .filter(Boolean);
}

/** Nouns a caller dictates digits or letters after: "my code is seven…", "номер восемь девять…". */
const CODE_NOUNS = new Set([
  'number', 'code', 'pin', 'zip', 'postcode', 'reference', 'account', 'id', 'extension', 'phone', 'policy', 'order',
  'confirmation', 'номер', 'код', 'телефон', 'индекс', 'счёт', 'счет', 'заказ', 'договор',
]);
const LINKING = new Set(['is', 'was', "it's", 'its', 'это']);

const DIGIT_WORDS = new Set(['zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
  'ноль', 'один', 'одна', 'два', 'две', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять']);

/**
 * One or two digits just after a code noun ("my phone number is five five", "номер восемь") or a single digit
 * right after "is" ("the code on my letter is seven"): the caller has begun dictating a number. A sentence that
 * really ends there ("my son is five") only waits longer; one cut off mid-number loses the number.
 */
function isDictationStarting(words: string[]): boolean {
  let i = words.length - 1;
  while (i >= 0 && words.length - 1 - i < 3 && (/^\d{1,4}$/.test(words[i]!) || NUMBER_WORDS.has(words[i]!))) i--;
  const digits = words.length - 1 - i;
  if (digits === 0 || digits > 2) return false;
  if (digits === 1 && DIGIT_WORDS.has(words[words.length - 1]!) && LINKING.has(words[i] ?? '')) return true;
  return words.slice(Math.max(0, i - 4), i + 1).some((w) => CODE_NOUNS.has(w));
}

const LETTERS = new Set('bcdefghjklmnopqrstuvwxyz'.split(''));
/** A letter name as a recognizer writes it: "b", "c" (not "a" or "i", which are words). */
function isLetter(w: string): boolean {
  return LETTERS.has(w.replace(/\.$/, ''));
}

/** Two or more letters at the end ("s m i t h", "b. r."): a name or code being spelled. */
function isBeingSpelled(words: string[]): boolean {
  const n = words.length;
  return n >= 2 && isLetter(words[n - 1]!) && (isLetter(words[n - 2]!) || words[n - 2] === 'a' || words[n - 2] === 'i');
}

/** Three or more trailing digit groups or number words ("five five five one two"), or digits with a trailing group of 1–3. */
/** The digits a dictated run at the end stands for ("212" three, "two" one; "double five" two), and its words. */
function trailingDigits(words: string[]): { words: number; digits: number } {
  let run = 0;
  let digits = 0;
  for (let i = words.length - 1; i >= 0; i--) {
    const w = words[i]!;
    if (/^\d{1,4}$/.test(w)) digits += w.length;
    else if (w === 'double' || w === 'triple') digits += w === 'double' ? 1 : 2; // the digit after it counts once
    else if (w === 'ten' || w === 'десять') digits += 2;
    else if (NUMBER_WORDS.has(w)) digits += 1;
    else break;
    run++;
  }
  return { words: run, digits };
}

/** A phone number's worth of digits (10: a national number in most plans) is said; a pause after it ends it. */
const WHOLE_NUMBER_DIGITS = 10;

function isDictatedNumber(words: string[]): boolean {
  const { words: run, digits } = trailingDigits(words);
  return run >= 3 && digits < WHOLE_NUMBER_DIGITS;
}

function isWholeNumber(words: string[]): boolean {
  return trailingDigits(words).digits >= WHOLE_NUMBER_DIGITS;
}

export const ruleEndOfTurn: EndOfTurnModel = new RuleEndOfTurn();
