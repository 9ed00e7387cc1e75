/**
 * The analyzer used without an LLM key (and as the fallback when the LLM keeps answering invalid output):
 * deterministic rules over the transcript and how the call ended, English and Russian.
 *   booking     — a booking row references the call, or a successful book_appointment tool turn
 *   failed      — the system ended the call: a provider or telephony failure, the server shutting down or lost, the
 *                 budget used up (never reported as the caller hanging up)
 *   transfer    — the caller was handed to a person
 *   lead        — a name and a phone number were given (digits or words), or booking intent plus one of them
 *   not_connected — nobody was on the line: unanswered, busy, a web call never started, or a machine answered
 *                 (a voicemail left or hung up on, a fax: answering-machine detection; never a conversation or a hangup)
 *   no_response — the caller said (next to) nothing and the bot ended the call: silence, the time limit, end_call
 *   hangup      — the caller hung up having said nothing (or next to nothing): only a call the caller ended
 *   support     — question-like caller turns
 * The summary always says how the call ended.
 */
import { extractName, extractPhoneDigits, isQuestion } from '../bookings/flow/understand.js';
import { endReasonCode, type CallEndReasonCode } from '../call/end-reasons.js';
import type { Analysis, AnalysisInput, Analyzer, TranscriptTurn } from './types.js';

/** Who or what ended the call: `caller_hangup` is the only ending the caller chose. */
export type Ending = 'caller_hangup' | 'silence' | 'failure' | 'server_ended' | 'transfer' | 'bot_ended' | 'not_connected' | 'machine';

/**
 * The ending each end reason means. A Record over the one list of reasons: a new reason must say whose end it is,
 * so no reason falls through to "the caller hung up". Not-connected reasons count only for a call where the caller
 * said nothing (isNotConnected); otherwise the status decides.
 */
const ENDING_OF_REASON: Record<CallEndReasonCode, Ending> = {
  caller_hangup: 'caller_hangup',
  bot_end_call: 'bot_ended',
  max_duration: 'bot_ended',
  silence: 'silence',
  transferred: 'transfer',
  provider_failure: 'failure',
  telephony_failed: 'failure',
  dial_refused: 'failure',
  dial_lost: 'failure',
  server_lost: 'failure',
  protocol_error: 'failure',
  server_error: 'failure',
  server_shutdown: 'server_ended',
  budget_exhausted: 'server_ended',
  bot_disabled: 'server_ended',
  busy: 'not_connected',
  no_answer: 'not_connected',
  canceled: 'not_connected',
  token_expired: 'not_connected',
  not_started: 'not_connected',
  never_connected: 'not_connected',
  voicemail_left: 'machine',
  voicemail_hung_up: 'machine',
  fax: 'machine',
};

const SILENCE_GOODBYE = /haven't heard anything for a while|я вас не слышу, поэтому завершаю/i;
const LEAD_OFFER = /take your details|записать ваши данные/i;

/** How the call ended, from its status and end reason, else from the transcript. */
export function endingOf(input: AnalysisInput): Ending {
  const reason = (input.end?.reason ?? '').toLowerCase();
  const status = (input.end?.status ?? '').toLowerCase();
  const code = endReasonCode(reason);
  const byReason = code ? ENDING_OF_REASON[code] : null;
  // A machine answered: answering-machine detection ended the call before any conversation.
  if (byReason === 'machine') return 'machine';
  // Nobody was on the line: unanswered, busy, or a web call whose page never started it.
  if (isNotConnected(input)) return 'not_connected';
  // The system ended it (a failure, the server, the budget), whatever the status says.
  if (byReason === 'failure' || byReason === 'server_ended') return byReason;
  if (status === 'failed' || /^(error|crash|server_error)/.test(reason)) return 'failure';
  if (byReason === 'transfer' || input.transcript.some((t) => t.role === 'system' && /^Transfer to .* requested/.test(t.text ?? ''))) {
    if (!input.transcript.some((t) => t.role === 'system' && /Transfer failed/.test(t.text ?? ''))) return 'transfer';
  }
  if (byReason === 'silence') return 'silence';
  const lastBot = [...input.transcript].reverse().find((t) => t.role === 'bot' || t.role === 'assistant');
  if (!reason && lastBot && SILENCE_GOODBYE.test(lastBot.text ?? '')) return 'silence';
  if (byReason === 'bot_ended') return 'bot_ended';
  return 'caller_hangup';
}

/** Calls with nobody on the line: statuses Twilio reports for them (the reasons Parley ends them with: ENDING_OF_REASON). */
const NOT_CONNECTED_STATUSES = new Set(['no_answer', 'busy', 'canceled']);

/** The call never had a caller on the line (and nothing was said; a machine may have): there is no conversation to analyse. */
export function isNotConnected(input: Pick<AnalysisInput, 'end' | 'transcript'>): boolean {
  if (input.transcript.some((t) => t.role === 'caller')) return false;
  const code = endReasonCode(input.end?.reason);
  const ending = code ? ENDING_OF_REASON[code] : null;
  return NOT_CONNECTED_STATUSES.has((input.end?.status ?? '').toLowerCase()) || ending === 'not_connected' || ending === 'machine';
}

const BOOKING_TOOLS = new Set(['book_appointment', 'create_booking']);
const TOOL_FAILED = /error|fail|taken|unavailable|not available|conflict|занят|ошибк|недоступ/i;
const BOOKING_INTENT = /\b(book|booking|appointment|schedule|reserve|reservation|slot)\b|запис|заброни|бронир|при[её]м/i;
const NAME_EN_ANY_CASE = /\bmy name is\s+([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?)/i;
const NAME_EN_CAPITALISED = /\b(?:this is|I am|I'm|it's)\s+([A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)/;
const NAME_RU_ANY_CASE = /(?:меня зовут|моё имя|мое имя)\s+([а-яё-]+(?:\s+[а-яё-]+)?)/i;
const NAME_RU_CAPITALISED = /(?:^|\s)(?:это|Это|я|Я)\s+([А-ЯЁ][а-яё-]+(?:\s+[А-ЯЁ][а-яё-]+)?)/;
const NOT_NAMES = new Set(['calling', 'looking', 'interested', 'wondering', 'trying', 'just', 'not', 'sorry', 'here', 'fine', 'good', 'ok', 'okay', 'sure', 'and', 'from', 'the', 'a', 'an', 'to', 'on', 'at', 'for', 'звоню', 'хочу', 'хотел', 'хотела', 'бы', 'по', 'на']);
const PHONE = /(\+?\d[\d\s\-().]{5,}\d)/;
const DATE_EN =
  /\b(\d{4}-\d{2}-\d{2}|today|tomorrow|day after tomorrow|(?:next |this )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)? of (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b/i;
const DATE_RU =
  /(\d{4}-\d{2}-\d{2}|послезавтра|завтра|сегодня|(?:в |во )?(?:понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)|\d{1,2} (?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря))/i;
const TIME_AMPM = /\b(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s?m\b\.?/i;
const TIME_24 = /\b([01]?\d|2[0-3])[:.]([0-5]\d)\b/;
// \b is ASCII-only in JS regexps, so Cyrillic words are bounded by whitespace/punctuation instead.
const TIME_RU = /(?:^|\s)в (\d{1,2})(?::(\d{2}))?\s*(утра|дня|вечера|часов|часа|час|ч)(?=[\s,.!?]|$)/i;
const TIME_OCLOCK = /\bat (\d{1,2}) ?o'?clock\b/i;
const SERVICE_EN = /\b(?:book|schedule|get|make)\s+(?:me\s+)?(?:a|an|the)\s+([a-z]+)(?:\s+(?:appointment|session))?/i;
const SERVICE_EN_FOR = /\bappointment for (?:a |an |the )?([a-z]+)/i;
const SERVICE_RU = /(?:записаться|записать меня|запишите меня|запишите)\s+(?:на|к)\s+([а-яё]+)/i;

const pad = (n: number) => String(n).padStart(2, '0');

function firstMatch(texts: string[], ...patterns: RegExp[]): RegExpExecArray | null {
  for (const t of texts) for (const p of patterns) {
    const m = p.exec(t);
    if (m) return m;
  }
  return null;
}

function findName(texts: string[]): string | null {
  for (const t of texts) {
    for (const p of [NAME_EN_ANY_CASE, NAME_RU_ANY_CASE, NAME_EN_CAPITALISED, NAME_RU_CAPITALISED]) {
      const m = p.exec(t);
      if (!m) continue;
      const words = m[1]!.split(/\s+/).filter((w) => !NOT_NAMES.has(w.toLowerCase()));
      // Stop at the first word that is clearly not part of a name.
      if (words.length && !NOT_NAMES.has(m[1]!.split(/\s+/)[0]!.toLowerCase())) {
        return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
      }
    }
  }
  return null;
}

function findPhone(texts: string[]): string | null {
  for (const t of texts) {
    const m = PHONE.exec(t);
    if (!m) continue;
    const digits = m[1]!.replace(/\D/g, '');
    if (digits.length >= 7 && digits.length <= 15) return (m[1]!.trim().startsWith('+') ? '+' : '') + digits;
  }
  // Said in words ("five five five, oh one two…", "девять один шесть…").
  for (const t of texts) {
    const d = extractPhoneDigits(t);
    if (d) return d;
  }
  return null;
}

const ASKED_NAME = /your name|what name|как вас зовут|на какое имя|ваше имя/i;

/** A bare name given right after the bot asked for one ("Maria Lopez"). */
function answeredName(transcript: TranscriptTurn[]): string | null {
  for (let i = 1; i < transcript.length; i++) {
    const t = transcript[i]!;
    const prev = transcript[i - 1]!;
    if (isCallerTurn(t) && !isCallerTurn(prev) && ASKED_NAME.test(prev.text ?? '')) {
      const n = extractName(t.text ?? '', true);
      if (n) return n;
    }
  }
  return null;
}

/** What the caller needed when the bot offered a callback: their words just before that offer. */
function leadRequest(transcript: TranscriptTurn[]): string | null {
  for (let i = transcript.length - 1; i >= 0; i--) {
    const t = transcript[i]!;
    if (isCallerTurn(t) || !LEAD_OFFER.test(t.text ?? '')) continue;
    for (let j = i - 1; j >= 0; j--) {
      const u = transcript[j]!;
      if (isCallerTurn(u) && (u.text ?? '').trim()) return (u.text ?? '').trim().replace(/[.?!]+$/, '').slice(0, 200);
    }
  }
  return null;
}

function findTime(texts: string[]): string | null {
  for (const t of texts) {
    let m = TIME_AMPM.exec(t);
    if (m) {
      let h = Number(m[1]) % 12;
      if (m[3]!.toLowerCase() === 'p') h += 12;
      return `${pad(h)}:${m[2] ?? '00'}`;
    }
    m = TIME_24.exec(t);
    if (m) return `${pad(Number(m[1]))}:${m[2]}`;
    m = TIME_RU.exec(t);
    if (m) {
      let h = Number(m[1]);
      if (/дня|вечера/i.test(m[3]!) && h < 12) h += 12;
      return `${pad(h)}:${m[2] ?? '00'}`;
    }
    m = TIME_OCLOCK.exec(t);
    if (m) return `${pad(Number(m[1]))}:00`;
  }
  return null;
}


export function isCallerTurn(t: TranscriptTurn): boolean {
  return t.role === 'caller' || t.role === 'user';
}

export function bookingToolSucceeded(transcript: TranscriptTurn[]): boolean {
  return transcript.some((t) => {
    const tool = t.name ?? t.tool ?? (/\b(book_appointment|create_booking)\b/.exec(t.text ?? '')?.[1] ?? '');
    return t.role !== 'caller' && BOOKING_TOOLS.has(tool) && !TOOL_FAILED.test(t.text ?? '');
  });
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

export function analyzeOffline(input: AnalysisInput): Analysis {
  const callerTexts = input.transcript.filter(isCallerTurn).map((t) => (t.text ?? '').trim()).filter(Boolean);
  const words = callerTexts.join(' ').split(/\s+/).filter(Boolean).length;
  const ru = input.language === 'ru' || /[а-яё]/i.test(callerTexts.join(' '));

  // A booking made during the call is what was agreed, whatever the caller's words held ("the second one").
  const b = input.booking ?? null;
  const name = b?.name ?? findName(callerTexts) ?? answeredName(input.transcript);
  const spokenPhone = findPhone(callerTexts);
  const date = b?.date ?? firstMatch(callerTexts, DATE_EN, DATE_RU)?.[1]?.toLowerCase() ?? null;
  const time = b?.time ?? findTime(callerTexts);
  const service = b?.service.toLowerCase() ?? firstMatch(callerTexts, SERVICE_EN_FOR, SERVICE_EN, SERVICE_RU)?.[1]?.toLowerCase() ?? null;
  const bookingIntent = callerTexts.some((t) => BOOKING_INTENT.test(t));
  const questions = callerTexts.filter(isQuestion);
  const booked = input.bookingMade || bookingToolSucceeded(input.transcript);
  const ending = endingOf(input);
  const request = leadRequest(input.transcript);

  let outcome: string;
  let confidence: number;
  if (booked) [outcome, confidence] = ['booking', input.bookingMade ? 0.95 : 0.85];
  else if (ending === 'not_connected' || ending === 'machine') [outcome, confidence] = ['not_connected', 0.95];
  else if (ending === 'failure' || ending === 'server_ended') [outcome, confidence] = ['failed', 0.9];
  else if (ending === 'transfer') [outcome, confidence] = ['transfer', 0.9];
  else if (name && spokenPhone) [outcome, confidence] = ['lead', 0.75];
  // The bot ended a call in which the caller said (next to) nothing: the caller did not respond, they did not hang
  // up. From here on only a call the caller ended is left with so few words: `hangup` is theirs alone.
  else if (ending === 'silence' && words <= 3) [outcome, confidence] = ['no_response', 0.9];
  else if (ending === 'bot_ended' && words <= 3) [outcome, confidence] = ['no_response', 0.7];
  else if (words === 0) [outcome, confidence] = ['hangup', 0.95];
  else if (bookingIntent && (name || spokenPhone)) [outcome, confidence] = ['lead', 0.6];
  else if (questions.length > 0) [outcome, confidence] = ['support', 0.65];
  else if (words <= 3) [outcome, confidence] = ['hangup', 0.6];
  else [outcome, confidence] = ['support', 0.4];

  const intent = booked || bookingIntent ? 'book_appointment' : request ? `callback: ${request}` : questions.length ? 'ask_question' : name || spokenPhone ? 'leave_contact' : null;
  const known: Record<string, unknown> = {
    intent,
    service,
    date,
    time,
    client_name: name,
    client_phone: spokenPhone ?? input.callerNumber,
  };

  const allowed = input.outcomes.types.map((t) => t.name);
  if (!allowed.includes(outcome)) {
    // A bot's own list without the ending types: a failure (or a machine) is still never "the caller hung up".
    const fallback = outcome === 'not_connected' && ending !== 'machine' ? 'hangup'
      : outcome === 'failed' || outcome === 'no_response' || outcome === 'transfer' ? (questions.length ? 'support' : null) : null;
    if (fallback && allowed.includes(fallback)) [outcome, confidence] = [fallback, 0.4];
    else [outcome, confidence] = allowed.includes('other') ? ['other', 0.3] : [allowed.find((a) => a !== 'hangup') ?? allowed[0]!, 0.2];
  }

  const props = Object.keys((input.outcomes.extractionSchema.properties as Record<string, unknown> | undefined) ?? {});
  const extractedData = Object.fromEntries(props.map((k) => [k, known[k] ?? null]));

  const summary = `${summarise(outcome, ru, { name, service, date, time, first: request ?? questions[0] ?? callerTexts[0] ?? null })} ${endingSentence(ending, ru, input.end?.reason ?? null)}`.trim();
  return { summary, outcomeType: outcome, confidence, extractedData, analyzer: 'offline' };
}

/** How the call ended, in one English sentence, for the LLM's facts (it cannot tell from the words who hung up). */
export function endingFact(input: AnalysisInput): string {
  const ending = endingOf(input);
  const sentence = endingSentence(ending, false, input.end?.reason ?? null);
  return ending === 'caller_hangup' ? sentence : `${sentence} The caller did not end it: it is never a hangup.`;
}

/**
 * `hangup` is the caller's ending alone: an LLM's `hangup` for a call the system or the bot ended takes the offline
 * rules' type (failed, no_response…) instead; anything else it decided stands.
 */
export function withHangupOnlyForCaller(analysis: Analysis, input: AnalysisInput): Analysis {
  if (analysis.outcomeType !== 'hangup' || endingOf(input) === 'caller_hangup') return analysis;
  const offline = analyzeOffline(input);
  return { ...analysis, outcomeType: offline.outcomeType, confidence: offline.confidence };
}

function endingSentence(ending: Ending, ru: boolean, reason: string | null): string {
  const why = reason ? ` (${reason})` : '';
  switch (ending) {
    case 'failure': return ru ? `Звонок прервался из-за сбоя системы${why}.` : `The call ended on a system failure${why}.`;
    case 'server_ended': return ru ? `Звонок завершил сервер${why}.` : `The server ended the call${why}.`;
    case 'transfer': return ru ? 'Звонок переведён на сотрудника.' : 'The call was transferred to a person.';
    case 'silence': return ru ? 'Клиент замолчал, и бот завершил звонок.' : 'The caller went silent and the bot ended the call.';
    case 'bot_ended':
      if (endReasonCode(reason) === 'max_duration') return ru ? 'Звонок достиг предельной длительности, и бот завершил его.' : 'The call reached its time limit and the bot ended it.';
      return ru ? 'Бот завершил звонок.' : 'The bot ended the call.';
    case 'not_connected': return ru ? `Звонок не состоялся${why}.` : `The call never connected${why}.`;
    case 'machine': return machineSentence(endReasonCode(reason), ru, why);
    default: return ru ? 'Клиент положил трубку.' : 'The caller hung up.';
  }
}

/** A call a machine answered (answering-machine detection): what was done with it. */
function machineSentence(code: CallEndReasonCode | null, ru: boolean, why: string): string {
  if (code === 'fax') return ru ? `Ответил факс, звонок завершён${why}.` : `A machine answered the call: a fax; the call was ended${why}.`;
  if (code === 'voicemail_left') return ru ? `Ответил автоответчик: сообщение оставлено${why}.` : `A machine answered the call: the message was left${why}.`;
  return ru ? `Ответил автоответчик, звонок завершён без сообщения${why}.` : `A machine answered the call: it was ended without a word${why}.`;
}

function summarise(outcome: string, ru: boolean, d: { name: string | null; service: string | null; date: string | null; time: string | null; first: string | null }): string {
  const when = [d.date, d.time].filter(Boolean).join(ru ? ' в ' : ' at ');
  const quote = d.first ? ` “${clip(d.first, 140)}”` : '';
  if (ru) {
    switch (outcome) {
      case 'booking':
        return `Клиент${d.name ? ` ${d.name}` : ''} записался${d.service ? ` на ${d.service}` : ''}${when ? ` (${when})` : ''}.`;
      case 'lead':
        return `Клиент${d.name ? ` ${d.name}` : ''} оставил контакты, но не записался.${quote ? ` Запрос:${quote}.` : ''}`;
      case 'support':
        return `Клиент задал вопрос:${quote || ' —'}.`;
      case 'hangup':
        return 'Клиент не высказал запроса.';
      case 'failed':
        return `Звонок не удался.${quote ? ` Клиент:${quote}.` : ''}`;
      case 'transfer':
        return `Клиента перевели на сотрудника.${quote ? ` Запрос:${quote}.` : ''}`;
      case 'no_response':
        return 'Клиент не отвечал.';
      case 'not_connected':
        return 'Разговора не было.';
      default:
        return `Итог звонка: ${outcome}.${quote ? ` Клиент:${quote}.` : ''}`;
    }
  }
  switch (outcome) {
    case 'booking':
      return `The caller${d.name ? ` ${d.name}` : ''} booked${d.service ? ` a ${d.service}` : ' an appointment'}${when ? ` (${when})` : ''}.`;
    case 'lead':
      return `The caller${d.name ? ` ${d.name}` : ''} left contact details but did not book.${quote ? ` Request:${quote}.` : ''}`;
    case 'support':
      return `The caller asked:${quote || ' —'}.`;
    case 'hangup':
      return 'The caller made no request.';
    case 'failed':
      return `The call did not complete.${quote ? ` Caller:${quote}.` : ''}`;
    case 'transfer':
      return `The caller was handed to a person.${quote ? ` Request:${quote}.` : ''}`;
    case 'no_response':
      return 'The caller did not respond.';
    case 'not_connected':
      return 'There was no conversation.';
    default:
      return `Call outcome: ${outcome}.${quote ? ` Caller:${quote}.` : ''}`;
  }
}

export const offlineAnalyzer: Analyzer = { analyze: async (input) => analyzeOffline(input) };
