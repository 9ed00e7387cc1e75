/** What the guided booking flow says, in English and Russian: one question at a time, read-backs, results. */
import { speakableTimes, type Language } from '../labels.js';

export interface FlowPhrases {
  whatTask: string;
  askService: (services: string[]) => string;
  unknownService: (heard: string, services: string[]) => string;
  askTime: (service: string) => string;
  askName: string;
  checkName: (name: string) => string;
  spellName: string;
  askPhone: string;
  askPhoneToFind: string;
  /** Without caller ID the name on the booking is the second thing asked before any booking is read out. */
  askNameToFind: string;
  badPhone: string;
  offer: (labels: string[]) => string;
  taken: (label: string, labels: string[]) => string;
  nothingFree: string;
  closedThen: (label: string, labels: string[]) => string;
  /** A time past how far ahead bookings are taken: the horizon said, and the last free times before it. */
  beyondHorizon: (label: string, days: number, labels: string[]) => string;
  readBack: (d: { service: string; when: string; name: string | null; phone: string | null }) => string;
  whatToChange: string;
  booked: (service: string, when: string, name: string | null) => string;
  noBookings: string;
  /** A number said on a call with caller ID: bookings are looked up by the calling number only. */
  onlyCallerNumber: string;
  /** No booking matches the number and name given: the same words whether or not the number has bookings. */
  notFoundByDetails: string;
  /** The first time no booking matches the number and name: the name asked again (the same words either way). */
  notFoundAskNameAgain: string;
  whichBooking: (labels: string[]) => string;
  found: (items: string[]) => string;
  confirmCancel: (what: string) => string;
  cancelled: (what: string) => string;
  askNewTime: (what: string) => string;
  confirmMove: (what: string, to: string) => string;
  moved: (what: string, to: string) => string;
  stopped: string;
  notAvailable: string;
  sorryAgain: string;
  letMeAskAgain: string;
}

const join = (items: string[], word: string): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`;

/** Offered times said with a day once ("tomorrow at 9:00 AM, 11:00 AM or 2:00 PM", labels.ts), and the question for them. */
const enTimes = (l: string[], lead: string, leadOne = lead): string =>
  l.length === 1 ? `${leadOne} ${speakableTimes(l, 'en')}. Would that suit you?` : `${lead} ${speakableTimes(l, 'en')}. Which one suits you?`;
const ruTimes = (l: string[], lead: string, question: string): string =>
  `${lead} ${speakableTimes(l, 'ru')}. ${l.length === 1 ? 'Вам подходит?' : question}`;

/** "1 день", "3 дня", "30 дней", "21 день". */
const ruDays = (n: number): string => {
  const [ten, one] = [n % 100, n % 10];
  if (ten >= 11 && ten <= 14) return 'дней';
  return one === 1 ? 'день' : one >= 2 && one <= 4 ? 'дня' : 'дней';
};

const en: FlowPhrases = {
  whatTask: 'Would you like to book, change or cancel an appointment?',
  askService: (s) => (s.length && s.length <= 6 ? `Which service would you like: ${join(s, 'or')}?` : 'Which service would you like to book?'),
  unknownService: (heard, s) => `Sorry, we don't offer ${heard}. We offer ${join(s, 'and')}. Which would you like?`,
  askTime: (service) => `What day and time would suit you for the ${service}?`,
  askName: 'May I have your name, please?',
  checkName: (name) => `I have your name as ${name}. Is that right? You can also spell it for me.`,
  spellName: "Sorry, I didn't get your name. Could you spell it for me, letter by letter?",
  askPhone: 'What phone number can we reach you on?',
  askPhoneToFind: 'What phone number did you book with?',
  askNameToFind: 'And what name is the booking under?',
  badPhone: "Sorry, I didn't get the whole number. Could you say it again, digit by digit?",
  offer: (l) => enTimes(l, 'I can offer'),
  taken: (label, l) => `Sorry, we're fully booked ${label}. ${l.length ? enTimes(l, 'The nearest free times are', 'The nearest free time is') : 'What other day and time would suit you?'}`,
  nothingFree: "Sorry, nothing is free then. What other day would suit you?",
  closedThen: (label, l) => `Sorry, we can't book ${label}. ${l.length ? enTimes(l, 'The nearest free times are', 'The nearest free time is') : 'What other day and time would suit you?'}`,
  beyondHorizon: (label, days, l) =>
    `Sorry, we take bookings up to ${days} days ahead, so I can't book ${label}. ${l.length ? enTimes(l, 'The latest free times are', 'The latest free time is') : 'What other day would suit you?'}`,
  readBack: (d) => `Let me confirm: ${d.service} ${d.when}${d.name ? `, for ${d.name}` : ''}${d.phone ? `, phone number ${d.phone}` : ''}. Shall I book it?`,
  whatToChange: 'What would you like to change: the service, the time, the name or the number?',
  booked: (service, when, name) => `You're booked for ${service} ${when}.${name ? ` Thank you, ${name}!` : ''} Is there anything else I can help with?`,
  noBookings: "I couldn't find an upcoming appointment. Is there anything else I can help with?",
  onlyCallerNumber: "I can only look up appointments made with the number you're calling from.",
  notFoundByDetails: "Sorry, I can't find a booking under those details. Is there anything else I can help with?",
  notFoundAskNameAgain: "I couldn't find a booking under that number and name. Could you say the name on the booking again?",
  whichBooking: (l) => `You have ${l.length} appointments: ${join(l, 'and')}. Which one do you mean?`,
  found: (items) => `You have ${join(items, 'and')}. Is there anything else I can help with?`,
  confirmCancel: (what) => `Just to confirm: cancel your ${what}?`,
  cancelled: (what) => `Done, your ${what} is cancelled. Is there anything else I can help with?`,
  askNewTime: (what) => `Your ${what}. What day and time would you like instead?`,
  // "to Thursday at 11:00 AM", not "to on Thursday…".
  confirmMove: (what, to) => `Just to confirm: move your ${what} to ${to.replace(/^on /, '')}?`,
  moved: (what, to) => `Done, your ${what} is moved to ${to.replace(/^on /, '')}. Is there anything else I can help with?`,
  stopped: "All right, I've left it as it was. Is there anything else I can help with?",
  notAvailable: "Sorry, I can't book appointments on this line. I can take your details and someone will call you back.",
  sorryAgain: "Sorry, I didn't catch that.",
  letMeAskAgain: 'Let me ask again:',
};

const ru: FlowPhrases = {
  whatTask: 'Вы хотите записаться, перенести или отменить запись?',
  askService: (s) => (s.length && s.length <= 6 ? `На какую услугу вас записать: ${join(s, 'или')}?` : 'На какую услугу вас записать?'),
  unknownService: (heard, s) => `Извините, услуги «${heard}» у нас нет. Есть ${join(s, 'и')}. Что вас интересует?`,
  askTime: (service) => `На какой день и время записать вас (${service})?`,
  askName: 'Как вас зовут?',
  checkName: (name) => `Я записал ваше имя так: ${name}. Верно? Можно продиктовать по буквам.`,
  spellName: 'Извините, я не расслышал имя. Продиктуйте его, пожалуйста, по буквам.',
  askPhone: 'Назовите, пожалуйста, номер телефона для связи.',
  askPhoneToFind: 'На какой номер телефона оформлена запись?',
  askNameToFind: 'На какое имя оформлена запись?',
  badPhone: 'Извините, я не расслышал номер целиком. Повторите его, пожалуйста, по цифрам.',
  offer: (l) => ruTimes(l, 'Могу предложить', 'Какое время вам подходит?'),
  taken: (label, l) => `К сожалению, ${label} занято. ${l.length ? ruTimes(l, 'Ближайшее свободное время:', 'Что вам подходит?') : 'Какой другой день и время вам удобны?'}`,
  nothingFree: 'К сожалению, в это время всё занято. Какой другой день вам удобен?',
  closedThen: (label, l) => `К сожалению, ${label} записаться нельзя. ${l.length ? ruTimes(l, 'Ближайшее свободное время:', 'Что вам подходит?') : 'Какой другой день и время вам удобны?'}`,
  beyondHorizon: (label, days, l) =>
    `К сожалению, мы записываем не дальше чем на ${days} ${ruDays(days)} вперёд, поэтому ${label} записаться нельзя. ${l.length ? ruTimes(l, 'Самое позднее свободное время:', 'Что вам подходит?') : 'Какой другой день вам удобен?'}`,
  readBack: (d) => `Проверим: ${d.service}, ${d.when}${d.name ? `, на имя ${d.name}` : ''}${d.phone ? `, телефон ${d.phone}` : ''}. Записываю?`,
  whatToChange: 'Что изменить: услугу, время, имя или номер?',
  booked: (service, when, name) => `${name ? `${name}, вы` : 'Вы'} записаны: ${service}, ${when}. Могу ещё чем-нибудь помочь?`,
  noBookings: 'Я не нашёл предстоящих записей. Могу ещё чем-нибудь помочь?',
  onlyCallerNumber: 'Я могу найти только записи, сделанные с номера, с которого вы звоните.',
  notFoundByDetails: 'К сожалению, я не нашёл записи с такими данными. Могу ещё чем-нибудь помочь?',
  notFoundAskNameAgain: 'Я не нашёл записи на этот номер и имя. Назовите, пожалуйста, ещё раз имя, на которое оформлена запись.',
  whichBooking: (l) => `У вас несколько записей: ${join(l, 'и')}. Какую вы имеете в виду?`,
  found: (items) => `У вас запись: ${join(items, 'и')}. Могу ещё чем-нибудь помочь?`,
  confirmCancel: (what) => `Уточню: отменить запись — ${what}?`,
  cancelled: (what) => `Готово, запись отменена: ${what}. Могу ещё чем-нибудь помочь?`,
  askNewTime: (what) => `Ваша запись: ${what}. На какой день и время её перенести?`,
  // "на четверг в 11:00", not "на в четверг…".
  confirmMove: (what, to) => `Уточню: перенести запись (${what}) на ${to.replace(/^во? /, '')}?`,
  moved: (what, to) => `Готово, запись (${what}) перенесена на ${to.replace(/^во? /, '')}. Могу ещё чем-нибудь помочь?`,
  stopped: 'Хорошо, оставляю всё как было. Могу ещё чем-нибудь помочь?',
  notAvailable: 'К сожалению, по этой линии записать нельзя. Могу записать ваши данные, и вам перезвонят.',
  sorryAgain: 'Извините, я не расслышал.',
  letMeAskAgain: 'Повторю вопрос:',
};

export const FLOW_PHRASES: Record<Language, FlowPhrases> = { en, ru };
