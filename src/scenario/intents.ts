/** Keyword rules for what the caller wants, in English and Russian, and extraction of booking details. */
import { extractName as flowName, isHypothetical } from '../bookings/flow/understand.js';
import { normalize } from './language.js';

export type Intent = 'stop_calling' | 'screening' | 'goodbye' | 'human' | 'cancel' | 'reschedule' | 'my_booking' | 'book' | 'other';

/**
 * A request never to be called again, in the word orders people use: "put me on your do-not-call list",
 * "take my number off your list", "больше мне не звоните", "удалите меня из базы". A miss is a compliance failure
 * (the number is not listed and the next campaign rings it), so the rule is broad — but a list, a base or a number
 * must be named: "take me off the waiting list" and "уберите меня с записи" are about a booking, not about calls.
 * (Cyrillic letters are not \w, so the Russian half bounds words with look-arounds instead of \b.)
 */
const STOP_CALLING_EN =
  "\\b(?:(?:stop|quit|cease) (?:calling|ringing|phoning|contacting)" +
  "|(?:don'?t|do not|never) (?:ever )?(?:call|ring|phone|contact) (?:me|us|this number|here|again)" +
  "|do[- ]not[- ]call (?:list|registry|register)" +
  "|(?:take|remove|delete|drop|strike|cross) (?:me|us|my (?:phone )?number|this number|my details) (?:off|from|out of) (?:your|the|this|all) (?:(?:calling|call|phone|contact|mailing|marketing|sales) )?(?:list|lists|database|records|system)" +
  "|(?:remove|delete|erase|lose) (?:my|this) (?:phone )?number" +
  "|(?:don'?t|do not) want (?:any more |anymore |more |any |further |your )?(?:phone )?calls" +
  "|(?:don'?t|do not) want (?:you |anyone )?to (?:call|ring|phone) (?:me|us|here)" +
  "|no more (?:phone )?calls|unsubscribe)\\b";
const STOP_CALLING_RU =
  '(?<![а-я])(?:(?:больше|никогда) (?:мне |нам |сюда )?(?:никогда |больше )?не звони(?:те|ть)' +
  '|(?:мне|нам|сюда) больше не звони(?:те|ть)' +
  '|не звоните (?:мне|нам|сюда|больше|никогда|по этому номеру|на этот номер)' +
  '|не (?:надо|нужно) (?:мне|нам|сюда|больше)(?: больше)? звонить' +
  '|(?:прошу|просим) (?:больше |мне |нас )*не звонить' +
  '|(?:перестаньте|прекратите|хватит|хорош) (?:мне |нам |сюда )?(?:уже )?звонить' +
  '|(?:удалите|уберите|вычеркните|исключите|сотрите) (?:мой|этот) (?:номер|телефон)' +
  '|(?:удалите|уберите|вычеркните|исключите) (?:меня|нас|мой номер|мой телефон|этот номер) (?:из|с) (?:вашей |вашего |своей |своего )?(?:базы|списка|списков|рассылки|обзвона)' +
  '|не беспокойте (?:меня|нас)' +
  '|(?:внесите|добавьте|занесите) (?:меня|нас|мой номер|этот номер) в (?:черный|стоп)[- ]?(?:список|лист))(?![а-я])';
const STOP_CALLING = new RegExp(`${STOP_CALLING_EN}|${STOP_CALLING_RU}`);

const RULES: [Intent, RegExp][] = [
  // Before everything else: a request never to be called again is honoured whatever else the sentence says.
  // A phone's screening assistant asking who calls and why (not the person).
  ['screening', /\b(screening service|say your name and (the )?reason|state your name and (the )?reason|record your name|who is calling and why|reason for (your|the) call)\b|назовите (себя|ваше имя) и (причину|цель)|кто звонит и (зачем|по какому вопросу)/],
  ['stop_calling', STOP_CALLING],
  ['human', /\b(human|operator|real person|a person|someone real|representative|live agent|receptionist|manager)\b|оператор|с человеком|живым человеком|менеджер|администратор|сотрудник/],
  ['cancel', /\bcancel|отмен/],
  ['reschedule', /\b(reschedule|move my|change (my|the) (appointment|booking|time))\b|перенес|перенест|изменить время/],
  ['my_booking', /\b(my (appointment|booking|reservation)|when is my|do i have an? (appointment|booking))\b|мо(я|ю|ей) запис|когда я записан|на когда я записан|моя бронь/],
  ['book', /\b(book|booking|appointment|schedule|reserve|reservation|sign me up)\b|запис|заброн|бронь|на при[её]м/],
  ['goodbye', /\b(bye|goodbye|good bye|that'?s all|that is all|have a (nice|good) day|nothing else)\b|^no,? thank(s| you)\b|до свидания|(^|\s)пока([\s,.!]|$)|всего доброго|это вс[её]|больше ничего|^нет,? спасибо/],
];

/** What may follow a goodbye and still be one: "bye then", "goodbye, thank you", "пока, спасибо". */
const AFTER_GOODBYE = /^[\s,.!]*((then|now|for now|thanks?|thank you( (so|very) much)?|спасибо( большое)?|тогда)[\s,.!]*)*$/;

/**
 * A goodbye closes what the caller says: "thanks, goodbye", "okay bye then". Words after it that are not thanks
 * make it something else — "bye" is how a recognizer often hears "Hi" ("bye I'd like a haircut tomorrow").
 */
function endsWithGoodbye(t: string, re: RegExp): boolean {
  const last = [...t.matchAll(new RegExp(re.source, 'g'))].at(-1);
  return last !== undefined && AFTER_GOODBYE.test(t.slice(last.index + last[0].length));
}

/** The words ask never to be called again (the rule classify() puts first, alone: whatever else they say). */
export function asksNotToBeCalled(text: string): boolean {
  return STOP_CALLING.test(normalize(text));
}

export function classify(text: string): Intent {
  const t = normalize(text);
  for (const [intent, re] of RULES) {
    if (!re.test(t)) continue;
    if (intent === 'goodbye' && !endsWithGoodbye(t, re)) continue;
    // "What happens if I cancel late?" asks about a policy; it is not a cancellation.
    if ((intent === 'cancel' || intent === 'reschedule' || intent === 'book' || intent === 'my_booking') && isHypothetical(t)) continue;
    return intent;
  }
  return 'other';
}

const GREETING = /^(hi|hello|hey|hiya|good (morning|afternoon|evening)|здравствуйте|привет|добрый (день|вечер)|доброе утро|алло)( there| again)?[\s,.!]*$/;

/** A bare greeting ("Hello there"), nothing else. */
export function isGreeting(text: string): boolean {
  return GREETING.test(normalize(text).replace(/[!.,]+$/g, ''));
}

const WANTS = /\b(would like|i'?d like|i want|want to|i need|need a|can i get|could i get|looking for)\b|хочу|хотел|хотела|нужн|можно/;

/**
 * A booking wish without the word "book": a service the bot offers plus a time or a "would like" ("I'd like a
 * haircut tomorrow at three"). Recognisers often mishear the one keyword; the service name carries the intent.
 */
export function wantsService(text: string, services: string[]): boolean {
  const named = extractService(text, services)?.toLowerCase();
  // Only a service from the bot's own list counts here, not a guess from the sentence's shape.
  if (!named || !services.some((s) => s.toLowerCase() === named)) return false;
  return extractWhen(text) !== null || WANTS.test(normalize(text));
}

export function isAffirmative(text: string): boolean {
  return /^(yes|yeah|yep|sure|ok|okay|sounds good|perfect|great|that works|fine|correct|right|the first|first)\b|^(да|ага|конечно|хорошо|давайте|подходит|отлично|первы|первое|верно)/.test(normalize(text));
}

export function isNegative(text: string): boolean {
  return /^(no|nope|not really|neither)\b|^(нет|не подходит|никак)/.test(normalize(text));
}

/** Which offered option the caller picked (0-based), or null. */
export function pickedOption(text: string, count: number): number | null {
  const t = normalize(text);
  if (/\b(third|3rd|last one)\b|трет|последн/.test(t) && count >= 3) return 2;
  if (/\b(second|2nd|the other one|latter)\b|втор|друго/.test(t) && count >= 2) return 1;
  if (/\b(first|1st|earliest)\b|перв|ближайш/.test(t) || isAffirmative(t)) return 0;
  return null;
}

const EN_DAYS = 'monday|tuesday|wednesday|thursday|friday|saturday|sunday';
const EN_HOUR_WORDS = 'one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve';
const EN_MONTHS = 'january|february|march|april|may|june|july|august|september|october|november|december';
const RU_MONTHS = 'января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря';
const WHEN_EN = new RegExp(
  `\\b(day after tomorrow|today|tonight|tomorrow|this (morning|afternoon|evening|week)|next (week|${EN_DAYS})|(on )?(${EN_DAYS})|in the (morning|afternoon|evening)|morning|afternoon|evening|noon|midday|` +
    `(${EN_MONTHS}) \\d{1,2}(st|nd|rd|th)?|\\d{1,2}(st|nd|rd|th)? of (${EN_MONTHS})|` +
    `(at |around |after |before )?\\d{1,2}(:\\d{2})? ?(am|pm|a\\.m\\.|p\\.m\\.|o'?clock)|at \\d{1,2}(:\\d{2})?|\\d{1,2}:\\d{2}|` +
    `(at |around |after |before )?(${EN_HOUR_WORDS})( thirty| fifteen| forty five)? ?(am|pm|a\\.m\\.|p\\.m\\.|o'?clock))\\b`,
  'g',
);
const WHEN_RU = new RegExp(
  `(послезавтра|сегодня|завтра|на следующей неделе|в (понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)|утром|дн[её]м|вечером|` +
    `\\d{1,2} (${RU_MONTHS})|(в |к |после |около )\\d{1,2}(:\\d{2})?( час(а|ов)?)?( утра| дня| вечера)?|\\d{1,2}:\\d{2})`,
  'g',
);

/** The caller's words about a time ("tomorrow at 3 pm", "завтра в 15:00"), or null. */
export function extractWhen(text: string): string | null {
  const t = normalize(text).replace(/[?!,;]/g, ' ');
  // Both rule sets can match the same words ("15:00"): keep the longest match per span, in text order.
  const spans = [...t.matchAll(WHEN_EN), ...t.matchAll(WHEN_RU)]
    .map((m) => ({ start: m.index, end: m.index + m[0].length, text: m[0].trim() }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const parts: string[] = [];
  let covered = -1;
  for (const span of spans) {
    if (span.start < covered) continue;
    parts.push(span.text);
    covered = span.end;
  }
  return parts.length ? parts.join(' ') : null;
}

/** "My name is Anna Lee" / "Меня зовут Анна" → the name, or null (as the guided flow reads it: flow/understand.ts). */
export const extractName = (text: string): string | null => flowName(text, false);

/** A bare answer to "what is your name?" ("Smith, John Smith" is John Smith, as in the guided flow). */
export const nameFromAnswer = (text: string): string | null => flowName(text, true);

const SERVICE_STOP = /^(an?|the|some|me|in|for|on|at|to|up|make|book|schedule|get|have|see|set|do|like|want|need|appointment|booking|reservation|time|slot|visit|при[её]м|запись|время|меня|мне|хочу|бы|на|к|записаться|записать|запишите|забронировать|сегодня|завтра|послезавтра|утром|вечером|днем|today|tomorrow|tonight|next|this|please|then|instead|пожалуйста|тогда)$/;

const SERVICE_CUES = [
  /\b(?:book|schedule|reserve)\s+((?:[a-z'-]+\s*){1,5})/g,
  /\b(?:get|want|need|like|for)\s+((?:[a-z'-]+\s*){1,5})/g,
  /(?:записаться|запишите|записать|забронировать|хочу|нужна|нужен|нужно)\s+((?:[а-я-]+\s*){1,4})/g,
];

/** The service the caller names: from the bot's service list when known, else from "book a haircut". */
export function extractService(text: string, services: string[]): string | null {
  const t = normalize(text);
  for (const s of services) {
    const stems = normalize(s).split(' ').filter((w) => w.length > 2).map((w) => w.slice(0, Math.max(4, w.length - 2)));
    if (stems.length && stems.every((stem) => t.includes(stem))) return s;
  }
  for (const cue of SERVICE_CUES) {
    for (const m of t.matchAll(cue)) {
      const words = (m[1] ?? '').split(/\s+/).filter(Boolean);
      while (words.length && SERVICE_STOP.test(words[0]!)) words.shift();
      const kept: string[] = [];
      for (const w of words) {
        if (SERVICE_STOP.test(w) || /\d/.test(w)) break;
        kept.push(w);
      }
      if (kept.length) return kept.slice(0, 2).join(' ');
    }
  }
  return null;
}

/** A bare answer to "what would you like to book?". */
export function serviceFromAnswer(text: string, services: string[]): string | null {
  const known = extractService(text, services);
  if (known) return known;
  const words = normalize(text).replace(/[^\p{L}\s-]/gu, ' ').split(/\s+/).filter(Boolean)
    .filter((w) => !/^(i|i'd|id|would|like|want|need|just|maybe|please|a|an|the|some|я|хочу|мне|нужна|нужно|нужен|на|пожалуйста)$/.test(w));
  const kept: string[] = [];
  for (const w of words) {
    if (SERVICE_STOP.test(w)) break;
    kept.push(w);
  }
  return kept.length ? kept.slice(0, 3).join(' ') : null;
}
