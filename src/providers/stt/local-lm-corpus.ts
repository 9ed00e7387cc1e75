/**
 * What callers of a phone agent say, as text to estimate the local recognizer's language model from: everyday
 * phone-call English (greetings, questions, thanks, goodbyes), booking / cancelling / rescheduling phrasings with
 * slots for a service, a day, a time, a name and a number, and lists of days, times, digits and common first names
 * and surnames. The bot's own terms (its services and their aliases, its name, its staff: the session's
 * `keyterms`) fill the service slot, so "I'd like a {service}" becomes the bot's own services; with no terms a few
 * generic words stand in.
 *
 * Generic on purpose: nothing here is taken from an evaluation script. Expansion is deterministic (a seeded
 * generator), so the same terms always give the same model and its cache key stays stable.
 */

import type { ExpectedInput } from '../types.js';
import { FIRST_NAMES, SURNAMES, isCommonName } from './local-names.js';

/** Everyday phone-call English a caller says to any business. */
const GENERAL = [
  'hello', 'hi', 'hi there', 'hello there', 'good morning', 'good afternoon', 'good evening', 'hey how are you',
  'hi how are you doing', "i'm good thanks", "i'm fine thank you", 'yes', 'yeah', 'yes please', 'yes that is right',
  "yes that's right", 'yes that works', 'yes that is correct', 'that is correct', 'correct', 'right', 'exactly', 'sure',
  'okay', 'ok', 'okay great', 'perfect', 'great thanks', 'sounds good', 'that sounds good', 'that works for me',
  'that would be great', 'go ahead', 'please do', 'absolutely', 'of course', 'no', 'no thanks', 'no thank you',
  'nope', "no that's wrong", 'no that is not right', 'not really', "no that's all", "that's all thanks",
  "that's it thank you", 'nothing else thanks', 'thank you', 'thanks', 'thanks a lot', 'thank you very much',
  'thank you so much', 'thanks goodbye', 'thank you goodbye', 'thanks bye', 'okay bye', 'bye', 'goodbye', 'bye bye',
  'have a nice day', 'you too', 'see you', 'see you then', 'sorry', 'sorry what was that', 'sorry i did not catch that',
  'can you repeat that', 'could you say that again', 'pardon', 'say that again please', 'one moment please',
  'hold on a second', 'just a second', 'let me check', 'let me think', 'i am not sure', "i don't know", 'maybe',
  'i think so', 'i guess so', 'never mind', 'forget it', 'wait', 'actually', 'actually no', 'hmm', 'um', 'uh',
  'can i speak to a person', 'can i talk to someone', 'can i speak to a manager', 'i want to talk to a human',
  'is this a real person', 'are you a robot', 'who am i speaking with', 'what is your name', 'where are you located',
  'what is your address', 'how do i get there', 'is there parking', 'do you have parking', 'what are your opening hours',
  'what are your hours', 'when are you open', 'when do you open', 'when do you close', 'what time do you open',
  'what time do you close', 'are you open today', 'are you open on sunday', 'are you open on the weekend',
  'how much does it cost', 'how much is it', 'what does it cost', 'what are your prices', 'how long does it take',
  'do you take credit cards', 'can i pay by card', 'do you accept cash', 'is there a discount', 'do you have any offers',
  'what services do you offer', 'what do you do', 'do you do that', 'do you offer that', 'can you help me with that',
  'i have a question', 'i have a quick question', 'i was wondering', 'i was wondering if you could help me',
  'i am calling about', 'i am calling to ask about', 'i am calling about my appointment', 'i saw your ad',
  'a friend recommended you', 'can someone call me back', 'please call me back', 'can you call me back later',
  'what is the cancellation policy', 'what happens if i cancel', 'what happens if i am late', 'is there a cancellation fee',
  'do you charge for cancelling', 'how far in advance do i need to cancel', 'can i cancel for free',
  'what if i miss my appointment', 'what is your email', 'do you have a website', 'can you send me a text',
  'can you send me a confirmation', 'i will think about it', 'i will call back later', 'i need some help',
  'it is urgent', 'it is not urgent', 'as soon as possible', 'whenever you can', 'the sooner the better',
  'how are you', 'nice to meet you', 'it was nice talking to you', 'you have been very helpful', 'that was quick',
  'i am in a hurry', 'i am at work', 'i am driving', 'can you hear me', 'i can hear you', 'the line is bad',
  'you are breaking up', 'hello are you there', 'are you still there', 'i am still here',
];

/**
 * Common English words outside the sentences above, each counted once: the model's vocabulary is closed, and
 * these keep ordinary speech ("is there parking outside") from being forced onto booking words.
 */
const COMMON_WORDS = (
  'about above across after again against ago all almost alone along already also although always am among an and another any ' +
  'anybody anyone anything anyway anywhere are area around as ask asked at away back bad be because become been before behind ' +
  'being below best better between big bit both bring broken brother but buy by call called came can car care case cause ' +
  'change check child children city close closed come coming could couple course cut daughter dear did different do does ' +
  'doing done door down during each early easy else end enough even ever every everyone everything exactly example except ' +
  'family far fast father few find fine finish first fix floor for found free friend from front full get getting give glad ' +
  'go going gone good got great had half hand happen happened hard has have having he head hear heard help her here him his ' +
  'home hope hour house how husband if important in inside instead into is it its job just keep kid kind kitchen knew know ' +
  'last late later least leave left less let life like likely line little live long look looking lot love made make man many ' +
  'may maybe me mean meet might mind minute minutes mom money month more most mother much must my myself name near need ' +
  'never new next nice night nobody none normal not nothing now number of off office often oh old on once only open or other ' +
  'our out outside over own paid part pay people person phone pick place plan please point possible pretty probably problem ' +
  'put question quick quite rather really reason remember rest room run said same saw say school second see seem seen send ' +
  'set she should show side since sister small so some somebody someone something sometimes son soon sorry start still stop ' +
  'street such suppose sure take talk tell than thank that the their them then there these they thing things think this those ' +
  'though thought through time to together told too took town tried true try turn two under understand until up upstairs us ' +
  'use used usually very wait want wanted was water way we week well went were what when where whether which while who whole ' +
  'why wife will wish with without woman wonder word work working world worry would write wrong year years yes yesterday yet ' +
  'you your yourself address email text message card cash price cost pay paying bill receipt quote estimate deposit refund ' +
  'weekend holiday birthday wedding meeting work lunch dinner breakfast hospital doctor school appointment reservation booking ' +
  'schedule available busy free open closed early late soon quickly slowly today tonight morning afternoon evening noon midnight'
).split(' ');

/** Booking-domain phrasings; {service}, {when}, {name}, {first}, {phone} are slots. */
const TEMPLATES = [
  "i'd like to book {service}", 'i would like to book {service}', 'i want to book {service}', 'i need {service}',
  "i'd like {service}", 'i would like {service}', 'i want {service}', 'can i book {service}', 'could i book {service}',
  'can i get {service}', 'i need to book {service}', 'i am looking for {service}', 'i am calling about {service}',
  'do you do {service}', 'do you offer {service}', 'how much is {service}', 'how much does {service} cost',
  'how long does {service} take', 'i need {service} {when}', "i'd like {service} {when}", 'i want {service} {when}',
  'can i book {service} {when}', 'book {service} {when}', 'i would like to book {service} {when}',
  'i want to book {service} for {when}', 'i need to book {service} {when}', 'can i come in {when}',
  'can i come {when}', 'is {when} available', 'is there anything {when}', 'do you have anything {when}',
  'do you have a slot {when}', 'what about {when}', 'how about {when}', '{when}', '{when} please', '{when} if possible',
  '{when} would be great', '{when} works for me', 'i can do {when}', 'i prefer {when}', 'make it {when}',
  'let us say {when}', 'no {when}', 'no make it {when}', 'actually {when}', 'change it to {when}',
  'can we do {when} instead', 'i would like to book an appointment', 'i want to make an appointment',
  "i'd like to make an appointment", 'i need an appointment', 'can i make a booking', 'i would like to make a booking',
  'i want to book an appointment', 'i need to book an appointment', 'can i book an appointment {when}',
  'i need to cancel my appointment', 'i want to cancel my appointment', "i'd like to cancel my appointment",
  'please cancel my appointment', 'please cancel my booking', 'can you cancel my booking', 'cancel my appointment',
  'i need to cancel my booking {when}', 'i want to cancel', 'i have to cancel', 'i need to reschedule',
  'i want to reschedule my appointment', "i'd like to reschedule my booking", 'can i reschedule my appointment',
  'can i move my appointment', 'can i move my booking to {when}', 'can i change my appointment',
  'i need to change the time of my appointment', 'can we move it to {when}', 'move it to {when} please',
  'when is my appointment', 'do i have an appointment', 'can you check my booking', 'i forgot when my appointment is',
  'my name is {name}', 'my name is {first}', 'it is {name}', "it's {name}", 'this is {name}', 'this is {first}',
  "i'm {name}", 'i am {name}', '{name}', '{first}', 'the name is {name}', 'under the name {name}', 'put it under {name}',
  'my name is {name} and i want to book {service} {when}', 'this is {name} i need {service}',
  'my name is {name} my number is {phone}', 'my number is {phone}', 'my phone number is {phone}', 'it is {phone}',
  "it's {phone}", '{phone}', 'you can reach me at {phone}', 'call me at {phone}', 'the number is {phone}',
  'my cell is {phone}', 'the second one', 'the first one', 'the last one', 'the earlier one', 'the later one',
  'it is spelled {spelled}', 'the first time', 'the second time', 'the third one', 'the one {when}', 'which times do you have {when}',
  'what times are free {when}', 'what is available {when}', 'anything {when} is fine',
];

/** A few generic service words for a bot without terms (so the slot is not empty). */
const GENERIC_SERVICES = ['an appointment', 'a booking', 'a consultation', 'a visit', 'a repair', 'a service', 'a check up', 'a quote'];

const DAYS = ['today', 'tomorrow', 'the day after tomorrow', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'next week', 'this week', 'this weekend', 'next monday', 'next tuesday', 'next wednesday', 'next thursday', 'next friday', 'next saturday', 'on monday', 'on tuesday', 'on wednesday', 'on thursday', 'on friday', 'on saturday', 'on sunday', 'this friday', 'in two days', 'in three days', 'in a week'];
const PARTS = ['morning', 'in the morning', 'in the afternoon', 'in the evening', 'afternoon', 'evening', 'at lunchtime', 'early', 'late'];
const HOURS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const MINUTES = ['', ' fifteen', ' thirty', ' forty five', " o'clock", ' o five', ' twenty', ' forty'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth', 'fifteenth', 'twentieth', 'twenty first', 'thirtieth'];
const DIGITS = ['zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** A small seeded generator (mulberry32), so the corpus is the same on every build. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A time of day as callers say it: "three", "three pm", "half past three", "quarter to four", "noon". */
function spokenTime(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const h = pick(HOURS);
  switch (Math.floor(r() * 9)) {
    case 0: return `${h} pm`;
    case 1: return `${h} am`;
    case 2: return `half past ${h}`;
    case 3: return `quarter past ${h}`;
    case 4: return `quarter to ${h}`;
    case 5: return pick(['noon', 'midday', 'twelve noon', 'lunchtime']);
    case 6: return `${h}${pick(MINUTES)} ${pick(['am', 'pm', 'in the morning', 'in the afternoon', 'in the evening'])}`;
    case 7: return `${h}${pick(MINUTES)}`;
    default: return `${h} ${pick(['in the morning', 'in the afternoon', 'in the evening', 'pm', 'am'])}`;
  }
}

function spokenWhen(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (Math.floor(r() * 7)) {
    case 0: return `${pick(DAYS)} at ${spokenTime(r)}`;
    case 1: return `${pick(DAYS)} ${pick(PARTS)}`;
    case 2: return `at ${spokenTime(r)}`;
    case 3: return `${pick(DAYS)}`;
    case 4: return `on ${pick(MONTHS)} ${pick(ORDINALS)} at ${spokenTime(r)}`;
    case 5: return `the ${pick(ORDINALS)} at ${spokenTime(r)}`;
    default: return `${pick(DAYS)} at ${spokenTime(r)}`;
  }
}

function spokenPhone(r: () => number): string {
  const n = r() < 0.7 ? 10 : 7;
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(DIGITS[Math.floor(r() * DIGITS.length)]!);
  return out.join(' ');
}

export interface CorpusSentence {
  text: string;
  /** How often the sentence counts; the bot's own terms weigh more than the general text. */
  weight: number;
}

/** The corpus for a bot with these terms (service names, aliases, staff and business names). */
export function callerCorpus(terms: readonly string[], size = 12_000): CorpusSentence[] {
  const r = seeded(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const cleanTerms = [...new Set(terms.map((t) => t.toLowerCase().trim()).filter(Boolean))];
  const services = cleanTerms.length ? cleanTerms.flatMap((t) => [t, `a ${t}`, `the ${t}`]) : GENERIC_SERVICES;
  const out: CorpusSentence[] = GENERAL.map((text) => ({ text, weight: 2 }));
  for (const t of cleanTerms) out.push({ text: t, weight: 4 });
  for (const w of COMMON_WORDS) out.push({ text: w, weight: 1 });
  const fill = (template: string): string =>
    template
      .replace('{service}', () => pick(services))
      .replace('{when}', () => spokenWhen(r))
      .replace('{name}', () => `${pick(FIRST_NAMES)} ${pick(SURNAMES)}`)
      .replace('{first}', () => pick(FIRST_NAMES))
      .replace('{phone}', () => spokenPhone(r))
      .replace('{spelled}', () => [...pick(r() < 0.5 ? FIRST_NAMES : SURNAMES)].join(' '));
  for (let i = 0; i < size; i++) out.push({ text: fill(pick(TEMPLATES)), weight: 1 });
  // Every name at least once on its own, so a rare one is not left to the unigram floor alone.
  for (const f of FIRST_NAMES) out.push({ text: `${f} ${pick(SURNAMES)}`, weight: 1 });
  for (const s of SURNAMES) out.push({ text: `${pick(FIRST_NAMES)} ${s}`, weight: 1 });
  return out;
}

/** How callers answer each kind of question; {name}, {first}, {last}, {spelled}, {when}, {phone} are slots. */
const ANSWERS: Record<ExpectedInput, string[]> = {
  name: [
    '{name}', '{name}', '{name}', '{first}', '{first}', 'my name is {name}', 'my name is {name}', 'my name is {first}',
    'my name is {first} {last}', "it's {name}", 'it is {name}', 'this is {name}', 'this is {first}', "i'm {name}",
    'i am {name}', 'the name is {name}', "it's {first}", 'yes my name is {name}', 'yes it is {name}', 'sure {name}',
    'sure my name is {name}', "yeah it's {name}", '{first} {last}', 'call me {first}', 'you can put {name}',
    'put it under {name}', 'under {name}', 'the booking is for {name}', "it's for {name}", 'for {name}',
    'mister {last}', 'missus {last}',
    "it's {name} thank you", '{name} thanks', '{name} please',
  ],
  spelling: [
    '{spelled}', '{spelled}', '{spelled}', 'it is {spelled}', "it's {spelled}", "it's spelled {spelled}",
    'it is spelled {spelled}', 'that is {spelled}', '{spelled} {spelled}', '{first} {spelled}', '{name}',
    'my name is {name}', 'my name is {spelled}', 'sure {spelled}', 'okay {spelled}', '{spelled} and {spelled}',
    'first name {spelled} last name {spelled}', '{first} that is {spelled}',
  ],
  phone: [
    '{phone}', '{phone}', '{phone}', 'my number is {phone}', 'my phone number is {phone}', "it's {phone}", 'it is {phone}',
    'the number is {phone}', 'you can reach me at {phone}', 'call me at {phone}', 'sure {phone}', 'yes {phone}',
    'my cell is {phone}', 'my mobile is {phone}', 'it is {phone} thank you', 'this number', 'the number i am calling from',
    'you can use this number', 'the same number', "that's {phone}",
  ],
  datetime: [
    '{when}', '{when}', '{when}', '{when} please', 'how about {when}', 'what about {when}', '{when} works for me',
    'i can do {when}', 'i prefer {when}', 'make it {when}', 'can i come {when}', 'is {when} available', 'no {when}',
    'actually {when}', 'the first one', 'the second one', 'the third one', 'the last one', 'the earlier one',
    'the later one', 'the first', 'the second', 'the one {when}', 'any time {when}', 'whatever is free {when}',
    'do you have anything {when}', 'what times are free {when}', 'yes', 'yes please', 'that works', 'okay',
  ],
  yesno: [
    'yes', 'yes', 'yes please', 'yeah', 'yep', 'yes that is right', "yes that's right", 'that is right', "that's right",
    'that is correct', "that's correct", 'correct', 'right', 'exactly', 'sure', 'okay', 'perfect', 'sounds good',
    'yes that works', 'yes go ahead', 'go ahead', 'please do', 'yes thank you', 'no', 'no', 'nope', 'no thanks',
    'no thank you', "no that's wrong", 'no that is not right', "that's wrong", 'not quite', 'no it is {name}',
    "no it's {name}", 'no my name is {name}', 'no it is spelled {spelled}', 'no {spelled}', '{spelled}',
    'no {when}', 'no make it {when}', 'actually {when}', 'no the number is {phone}', 'wait', 'hold on', 'actually no',
    'no i want to change the time', 'no i want to change something', 'can you repeat that', 'sorry what was that',
  ],
};

/**
 * The corpus for decoding the answer to one kind of question: the answers above, many times over and filled
 * with common names, letters, days, times and digits. `spelling` picks how a name is written (of two that sound
 * alike, "Ana" and "Anna", the more common one: local-lm-build.ts). The caller of this (local-lm-build.ts) mixes in a share
 * of the bot's own corpus, so an answer off the script ("actually, what does it cost?") still comes through.
 */
export function answerCorpus(kind: ExpectedInput, size = 6000, spelling: (name: string) => string = (name) => name): CorpusSentence[] {
  const r = seeded(0xa115);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const first = (): string => spelling(pick(FIRST_NAMES));
  const last = (): string => spelling(pick(SURNAMES));
  const spelled = (): string => [...(r() < 0.5 ? first() : last())].join(' ');
  const fill = (template: string): string =>
    template
      .replace(/\{name\}/g, () => `${first()} ${last()}`)
      .replace(/\{first\}/g, first)
      .replace(/\{last\}/g, last)
      .replace(/\{spelled\}/g, spelled)
      .replace(/\{when\}/g, () => spokenWhen(r))
      .replace(/\{phone\}/g, () => spokenPhone(r));
  const templates = ANSWERS[kind];
  const out: CorpusSentence[] = [];
  for (let i = 0; i < size; i++) out.push({ text: fill(pick(templates)), weight: 1 });
  // Every letter and every listed name at least once, so none is left to the unigram floor alone.
  if (kind === 'spelling' || kind === 'yesno') for (const c of 'abcdefghijklmnopqrstuvwxyz') out.push({ text: c, weight: 1 });
  if (kind === 'name' || kind === 'spelling' || kind === 'yesno') {
    for (const f of FIRST_NAMES) out.push({ text: `${spelling(f)} ${last()}`, weight: 1 });
    for (const s of SURNAMES) out.push({ text: `${first()} ${spelling(s)}`, weight: 1 });
  }
  return out;
}

let everyday: Set<string> | null = null;

/**
 * The words callers say that are not names: those of the everyday sentences, the booking phrasings, the common
 * words, days, months, times and digits above (so a name heard as "came" or "one" can be told from a real one).
 */
export function everydayWords(): Set<string> {
  if (everyday) return everyday;
  const text = [...GENERAL, ...COMMON_WORDS, ...TEMPLATES, ...GENERIC_SERVICES, ...DAYS, ...PARTS, ...HOURS, ...MINUTES, ...MONTHS, ...ORDINALS, ...DIGITS, ...Object.values(ANSWERS).flat()].join(' ');
  const names = new Set([...FIRST_NAMES, ...SURNAMES]);
  everyday = new Set(text.toLowerCase().replace(/\{\w+\}/g, ' ').split(/[^a-z']+/).filter((w) => w && !names.has(w)));
  return everyday;
}

/** Could this word be a name the caller really has (a listed one, or one we do not list)? Not when callers say it anyway. */
export const plausibleName = (word: string): boolean => isCommonName(word) || !everydayWords().has(word.toLowerCase());
