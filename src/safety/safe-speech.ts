/**
 * The safe-speech checker: one pure, synchronous check of a phrase of LLM text before it goes to
 * TTS. In order of severity:
 *   - blocked:        a phrase from the bot's blocklist (whole words, case-insensitive) — refused;
 *   - system_prompt:  a long verbatim run (`promptOverlapWords`, default 10 words) of the system prompt — refused;
 *   - foreign_data:   a phone number or email that is neither the caller's nor in this call's documents/tool
 *                     results (`allowedNumbers`) — refused;
 *   - invented_number: a price stated right next to a service's name when `facts` gives that service a different
 *                     value — refused. Conservative: only numbers marked as money ($80, 80 dollars, 1 500 ₽,
 *                     "costs 80"), and only against the nearest service named within the same clause;
 *   - code:           code read aloud (fences, HTML tags, statements) — refused;
 *   - formatting:     markdown, URLs and emoji — stripped; the replacement is the speakable text.
 * A refusal's replacement is a deterministic phrase in the call's language (en, ru). No I/O, no clock, no regex
 * built per phrase: the context is compiled once (cached per context object) and each phrase costs microseconds.
 */
import { EMAIL_PATTERN } from '../privacy/redact.js';

export type SafeSpeechLanguage = 'en' | 'ru';

export interface SafeSpeechFact {
  /** A service (or product) name as the caller would hear it, e.g. "teeth cleaning". */
  name: string;
  aliases?: readonly string[];
  /** The value(s) a tool or document gave for it (a price). */
  values: readonly number[];
}

export interface SafeSpeechContext {
  language: SafeSpeechLanguage;
  /** The bot's system prompt as sent to the LLM (without retrieved documents). */
  systemPrompt?: string;
  /** Per-bot words or phrases never to be spoken. */
  blocklist?: readonly string[];
  /** The caller's own number and email: always fine to read back. */
  callerNumber?: string | null;
  callerEmail?: string | null;
  /** Phone numbers and emails in this call's documents and tool results (the company's own, a booking's). */
  allowedNumbers?: readonly string[];
  /** Prices that tools or documents gave this call. */
  facts?: readonly SafeSpeechFact[];
  /** A verbatim run of the system prompt this many words long is a leak. Default 10. */
  promptOverlapWords?: number;
}

export type SafeSpeechReason = 'blocked' | 'system_prompt' | 'foreign_data' | 'invented_number' | 'code' | 'formatting';

export type SafeSpeechResult =
  | { ok: true }
  | { ok: false; reason: SafeSpeechReason; replacement: string; detail?: string };

export const FALLBACK_PHRASES: Record<SafeSpeechLanguage, Record<Exclude<SafeSpeechReason, 'formatting'> | 'empty', string>> = {
  en: {
    blocked: "Sorry, I can't talk about that. Is there anything else I can help you with?",
    system_prompt: "Sorry, I can't share that. How else can I help?",
    foreign_data: "Sorry, I can't share someone else's details. How else can I help?",
    invented_number: "I don't want to give you a wrong figure, so let me check the exact price for you.",
    code: "I'd rather not read that out. I can send the details another way, or help with something else.",
    empty: 'Let me put that another way.',
  },
  ru: {
    blocked: 'Извините, об этом я говорить не могу. Чем ещё могу помочь?',
    system_prompt: 'Извините, этим я поделиться не могу. Чем ещё могу помочь?',
    foreign_data: 'Извините, я не могу сообщать чужие данные. Чем ещё могу помочь?',
    invented_number: 'Не хочу назвать неверную цифру — давайте я уточню точную цену.',
    code: 'Это лучше не зачитывать вслух. Могу помочь с чем-нибудь ещё.',
    empty: 'Скажу иначе.',
  },
};

interface Compiled {
  blocklist: RegExp | null;
  promptShingles: Set<string>;
  overlap: number;
  allowedDigits: string[];
  allowedEmails: Set<string>;
  facts: { pattern: RegExp; values: readonly number[]; name: string }[];
}

const WORD = /[\p{L}\p{N}]+/gu;
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>()]+|(?<![@\p{L}\p{N}._%+-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ru|рф|co|uk|de|info|biz|app|dev)(?:\/[^\s<>()]*)?(?![\p{L}\p{N}@])/giu;
/**
 * Emoji and pictographs (🕘 ✅ ★ ™, flags, skin tones, keycaps, the joiners and variation selectors that build them):
 * a voice reads them as their names ("grinning face") or as noise. They reach a phrase from the model and from
 * documents (the scenario engine speaks a document's sentence as it is).
 */
const EMOJI = /[\u2605\u2606\u2700-\u27bf\p{Extended_Pictographic}\p{Regional_Indicator}\p{Emoji_Modifier}]|\u200d|\ufe0e|\ufe0f|\u20e3/gu;
const PHONE_RE = /(?:\+\s?)?\(?\d[\d\s().-]{5,}\d/g;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const CODE_RE = /```|<\/?[a-z][a-z0-9]*(?:\s[^<>]*)?>|\b(?:function|const|let|var|def|return|import|SELECT|INSERT)\b[^.!?]*[=({;]|[{};]\s*$|=>|\b\w+\([^)]*\)\s*[;{]/m;
const MONEY_NUMBER = /(?:[$€£₽]\s?)?\d{1,3}(?:[ \u00a0,]\d{3})+(?:[.,]\d{1,2})?(?:\s?[$€£₽])?|(?:[$€£₽]\s?)?\d+(?:[.,]\d{1,2})?(?:\s?[$€£₽])?/g;
const CURRENCY_AFTER = /^\s*(?:dollars?|usd|bucks|euros?|eur|pounds?|gbp|rubles?|roubles?|rub|руб\.?|рубл\p{L}*|р\.|долл\p{L}*|евро)(?![\p{L}])/iu;
const PRICE_BEFORE = /(?:costs?|price[sd]?|priced at|is|are|for|fee of|стои\p{L}*|цена|обойд\p{L}*|за)\s+$/iu;

const cache = new WeakMap<SafeSpeechContext, Compiled>();

function words(text: string): string[] {
  return text.toLowerCase().replace(/ё/g, 'е').match(WORD) ?? [];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

function compile(ctx: SafeSpeechContext): Compiled {
  const overlap = Math.max(4, ctx.promptOverlapWords ?? 10);
  const promptShingles = new Set<string>();
  const pw = words(ctx.systemPrompt ?? '');
  for (let i = 0; i + overlap <= pw.length; i++) promptShingles.add(pw.slice(i, i + overlap).join(' '));
  const blocked = (ctx.blocklist ?? []).map((b) => b.trim()).filter(Boolean);
  const allowed = [...(ctx.allowedNumbers ?? []), ctx.callerNumber ?? '', ctx.callerEmail ?? ''].filter(Boolean);
  return {
    blocklist: blocked.length ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${blocked.map((b) => escapeRe(b).replace(/\s+/g, '\\s+')).join('|')})(?![\\p{L}\\p{N}])`, 'iu') : null,
    promptShingles,
    overlap,
    allowedDigits: allowed.filter((a) => !a.includes('@')).map(digitsOf).filter((d) => d.length >= 7),
    allowedEmails: new Set(allowed.filter((a) => a.includes('@')).map((a) => a.trim().toLowerCase())),
    facts: (ctx.facts ?? []).filter((f) => f.values.length > 0).map((f) => ({
      name: f.name,
      values: f.values,
      pattern: new RegExp(`(?<![\\p{L}\\p{N}])(?:${[f.name, ...(f.aliases ?? [])].map((n) => escapeRe(n.trim()).replace(/\s+/g, '\\s+')).join('|')})(?![\\p{L}\\p{N}])`, 'giu'),
    })),
  };
}

/**
 * Same number when the last digits agree (up to ten, at least seven): 212-555-0201 is +1 212 555 0201, and
 * 8 916 123-45-67 (Russian trunk prefix) is +7 916 123-45-67.
 */
export function sameNumber(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length, 10);
  return n >= 7 && a.slice(-n) === b.slice(-n);
}

function foreignData(text: string, c: Compiled): string | null {
  for (const m of text.matchAll(EMAIL_PATTERN)) {
    if (!c.allowedEmails.has(m[0].toLowerCase())) return `email ${m[0]}`;
  }
  for (const m of text.matchAll(PHONE_RE)) {
    const raw = m[0].trim();
    const digits = digitsOf(raw);
    if (digits.length < 7 || digits.length > 15 || ISO_DATE.test(raw)) continue;
    // Looks like a phone number: international, ten digits or more, or grouped like one (555-0201, (212) 555…).
    const phoneLike = raw.startsWith('+') || digits.length >= 10 || /\d{3}[-. )]\s?\d{4}\b|\(\d{3}\)/.test(raw);
    if (!phoneLike) continue;
    if (!c.allowedDigits.some((a) => sameNumber(a, digits))) return `number ${raw}`;
  }
  return null;
}

function parseAmount(raw: string): number {
  let s = raw.replace(/[$€£₽\s\u00a0]/g, '');
  // "1,500" / "1,500.50": comma thousands; "12,50": decimal comma.
  if (/^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  else s = s.replace(',', '.');
  return Number(s);
}

function inventedNumber(text: string, c: Compiled): string | null {
  if (!c.facts.length || !/\d/.test(text)) return null;
  const mentions: { start: number; end: number; fact: Compiled['facts'][number] }[] = [];
  for (const fact of c.facts) {
    fact.pattern.lastIndex = 0;
    for (const m of text.matchAll(fact.pattern)) mentions.push({ start: m.index, end: m.index + m[0].length, fact });
  }
  if (!mentions.length) return null;
  for (const m of text.matchAll(MONEY_NUMBER)) {
    const raw = m[0];
    const start = m.index;
    const end = start + raw.length;
    const money = /[$€£₽]/.test(raw) || CURRENCY_AFTER.test(text.slice(end, end + 12)) || PRICE_BEFORE.test(text.slice(Math.max(0, start - 14), start));
    if (!money) continue;
    // The nearest service named in the same clause (no sentence or clause break between them), within 60 chars.
    let best: (typeof mentions)[number] | null = null;
    let bestDistance = 61;
    for (const mention of mentions) {
      const [from, to] = mention.end <= start ? [mention.end, start] : [end, mention.start];
      const distance = to - from;
      if (distance < 0 || distance >= bestDistance) continue;
      if (/[.;!?]\s|\n/.test(text.slice(from, to))) continue;
      best = mention;
      bestDistance = distance;
    }
    if (!best) continue;
    const amount = parseAmount(raw);
    if (!Number.isFinite(amount)) continue;
    if (!best.fact.values.some((v) => Math.abs(v - amount) <= Math.max(0.005 * Math.abs(v), 0.005))) {
      return `${best.fact.name}: said ${raw.trim()}, known ${best.fact.values.join(' / ')}`;
    }
  }
  return null;
}

/** Markdown, URLs and emoji out, the words kept: what is left to speak. */
export function stripFormatting(text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // [text](url), images
    .replace(URL_RE, '')
    .replace(EMOJI, '')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|[\s(])[*_]([^*_\s][^*_]*?)[*_](?=[\s).,!?;:]|$)/g, '$1$2')
    .replace(/^\s{0,3}#{1,6}\s+/gm, '')
    .replace(/^\s*(?:[-*+•]|\d+[.)])\s+/gm, '')
    .replace(/^\s*>\s?/gm, '')
    .replace(/\|/g, ', ')
    .replace(/[*_~#]{2,}/g, '')
    // (?<!\s): a whitespace run is matched from its first character only; else a long run costs n² steps.
    .replace(/(?<!\s)\s+([,.!?;:])/g, '$1')
    .replace(/([,;:])(?:\s*[,;:])+/g, '$1')
    .replace(/\(\s*\)/g, '')
    .replace(/(?<!\s)\s*\n\s*/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

const FORMATTING_HINT = /[*_`#|[\]>~]|https?:|www\.|^\s*(?:[-+•]|\d+[.)])\s/m;

export function checkPhrase(text: string, ctx: SafeSpeechContext): SafeSpeechResult {
  let c = cache.get(ctx);
  if (!c) {
    c = compile(ctx);
    cache.set(ctx, c);
  }
  const fallback = FALLBACK_PHRASES[ctx.language] ?? FALLBACK_PHRASES.en;
  const refuse = (reason: Exclude<SafeSpeechReason, 'formatting'>, detail?: string): SafeSpeechResult =>
    ({ ok: false, reason, replacement: fallback[reason], ...(detail ? { detail } : {}) });

  if (c.blocklist) {
    const m = c.blocklist.exec(text);
    if (m) return refuse('blocked', m[0]);
  }
  if (c.promptShingles.size) {
    const w = words(text);
    for (let i = 0; i + c.overlap <= w.length; i++) {
      if (c.promptShingles.has(w.slice(i, i + c.overlap).join(' '))) return refuse('system_prompt');
    }
  }
  const foreign = foreignData(text, c);
  if (foreign) return refuse('foreign_data', foreign);
  const invented = inventedNumber(text, c);
  if (invented) return refuse('invented_number', invented);
  if (CODE_RE.test(text)) return refuse('code');
  const stripped = formattingStripped(text);
  if (stripped === null) return { ok: true };
  return { ok: false, reason: 'formatting', replacement: stripped || fallback.empty };
}

/** `text` without its markdown, URLs and emoji; null when it has none; '' when nothing speakable is left. */
function formattingStripped(text: string): string | null {
  URL_RE.lastIndex = 0;
  EMOJI.lastIndex = 0;
  const hinted = FORMATTING_HINT.test(text) || URL_RE.test(text) || EMOJI.test(text);
  URL_RE.lastIndex = 0;
  EMOJI.lastIndex = 0;
  if (!hinted) return null;
  const stripped = stripFormatting(text);
  if (stripped === text.trim()) return null;
  return /[\p{L}\p{N}]/u.test(stripped) ? stripped : '';
}

/**
 * A configured text as a voice should read it — the greeting, a recording notice, a campaign's voicemail, the
 * session's own lines, a tool's `say` (service names come from the bot's config): the same formatting step as the
 * model's answers (markdown, URLs and emoji out), at speak time, so bots saved before and texts filled from a
 * contact's variables are covered too. Only formatting: the company's own words are not refused as an answer is.
 * '' when nothing speakable is left.
 */
export function speakableText(text: string): string {
  return formattingStripped(text) ?? text;
}

/** The emails and the runs of 7 or more digits that may be phone numbers in `text`, as written there. */
export function contactsIn(text: string): string[] {
  const found = [...text.matchAll(EMAIL_PATTERN)].map((m) => m[0]);
  for (const m of text.matchAll(PHONE_RE)) if (digitsOf(m[0]).length >= 7) found.push(m[0].trim());
  return found;
}

/**
 * The context with the phone numbers and emails found in `text` (retrieved documents, a tool's result) allowed too.
 * A new object: compiled contexts are cached per object, so a changed allow-list needs one.
 */
export function allowContactsIn(ctx: SafeSpeechContext, text: string): SafeSpeechContext {
  const found = contactsIn(text);
  if (!found.length) return ctx;
  return { ...ctx, allowedNumbers: [...(ctx.allowedNumbers ?? []), ...found] };
}
