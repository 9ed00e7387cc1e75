/**
 * Everything the scenario engine says, in English and Russian. The questions double as state markers: the
 * engine is stateless and recognises which question it asked last by these exact sentences in the history.
 */
import { speakableTimes } from '../bookings/labels.js';
import type { Language } from '../providers/types.js';

export interface Replies {
  askService: string;
  unknownService: (services: string[]) => string;
  askTime: string;
  askName: string;
  askRescheduleTime: string;
  offerTail: string;
  offer: (labels: string[]) => string;
  noSlots: string;
  slotTaken: (labels: string[]) => string;
  confirmed: (label: string, name: string | null) => string;
  cannotBook: (details: string) => string;
  checking: string;
  knowledge: (source: string, extract: string) => string;
  dontKnow: string;
  goodbye: string;
  cannotTransfer: string;
  bookingFound: (label: string) => string;
  noBooking: string;
  cancelled: string;
  rescheduled: (label: string) => string;
  toolError: string;
  done: string;
  anythingElse: string;
  didNotCatch: string;
  or: string;
  hello: string;
  /** The fallback that promises to take details, and the questions that take them (also state markers). */
  leadStart: string;
  leadAskName: string;
  leadAskPhone: (name: string | null) => string;
  leadPhoneAgain: string;
  leadDone: (name: string, phone: string, need: string | null) => string;
  /** A short lead-in when a line would otherwise repeat verbatim. */
  again: string;
  backToFlow: string;
  noRecognizer: string;
}

const join = (labels: string[], or: string): string =>
  labels.length <= 1 ? (labels[0] ?? '') : `${labels.slice(0, -1).join(', ')} ${or} ${labels[labels.length - 1]}`;

const en: Replies = {
  askService: 'What would you like to book?',
  unknownService: (l) => (l.length ? `We offer ${join(l, 'and')}. What would you like to book?` : 'What would you like to book?'),
  askTime: 'What day and time would suit you?',
  askName: 'May I have your name, please?',
  askRescheduleTime: 'What time would you like to move it to?',
  offerTail: 'Which one would you like?',
  offer: (l) => `I can offer ${speakableTimes(l, 'en')}. Which one would you like?`,
  noSlots: "I'm sorry, nothing is free at that time. What other day and time would suit you?",
  slotTaken: (l) => (l.length ? `I'm sorry, that time was just taken. I can offer ${speakableTimes(l, 'en')}. Which one would you like?` : "I'm sorry, that time was just taken. What other day and time would suit you?"),
  confirmed: (label, name) => `You're booked for ${label}${name ? `, ${name}` : ''}. Is there anything else I can help with?`,
  cannotBook: (d) => `I can't book this directly right now, but I've noted ${d}, and a colleague will call you back to confirm.`,
  checking: 'One moment, let me check.',
  knowledge: (source, extract) => `According to ${source}, ${extract}`,
  dontKnow: "I'm sorry, I don't know that. I can take your details and someone will get back to you.",
  goodbye: 'Thank you for calling. Goodbye!',
  cannotTransfer: "I'm sorry, I can't transfer you right now, but I can take your details and someone will call you back.",
  bookingFound: (label) => `Your appointment is on ${label}.`,
  noBooking: "I couldn't find a booking for you.",
  cancelled: 'Your booking has been cancelled. Is there anything else I can help with?',
  rescheduled: (label) => `Done, your appointment is now on ${label}. Is there anything else I can help with?`,
  toolError: "I'm sorry, something went wrong on my side. Could you try again?",
  done: 'Done. Is there anything else I can help with?',
  anythingElse: 'Is there anything else I can help with?',
  didNotCatch: "Sorry, I didn't catch that. Could you say it again?",
  or: 'or',
  hello: 'Hello! How can I help you today?',
  leadStart: "I'm sorry, I don't have that information. I can take your details and have someone call you back.",
  leadAskName: 'What name should I leave for the callback?',
  leadAskPhone: (name) => `Thank you${name ? `, ${name}` : ''}. What number should we call you back on?`,
  leadPhoneAgain: "Sorry, I didn't get the whole number. What number should we call you back on? Digit by digit, please.",
  leadDone: (name, phone, need) => `Thank you, ${name}. I've noted your number, ${phone}${need ? `, and your request: ${need}` : ''}. Someone will call you back soon. Is there anything else I can help with?`,
  again: 'Sorry, let me put it another way.',
  backToFlow: 'Now, back to your appointment.',
  noRecognizer: "Sorry, I can't understand speech on this line. Please type your message or use the keypad.",
};

const ru: Replies = {
  askService: 'На какую услугу вас записать?',
  unknownService: (l) => (l.length ? `У нас есть ${join(l, 'и')}. На какую услугу вас записать?` : 'На какую услугу вас записать?'),
  askTime: 'Какой день и время вам удобны?',
  askName: 'Как вас зовут?',
  askRescheduleTime: 'На какое время перенести запись?',
  offerTail: 'Какое время вам подходит?',
  offer: (l) => `Могу предложить ${speakableTimes(l, 'ru')}. Какое время вам подходит?`,
  noSlots: 'К сожалению, на это время всё занято. Какой другой день и время вам удобны?',
  slotTaken: (l) => (l.length ? `К сожалению, это время только что заняли. Могу предложить ${speakableTimes(l, 'ru')}. Какое время вам подходит?` : 'К сожалению, это время только что заняли. Какой другой день и время вам удобны?'),
  confirmed: (label, name) => `${name ? `${name}, вы` : 'Вы'} записаны на ${label}. Могу ещё чем-нибудь помочь?`,
  cannotBook: (d) => `Сейчас я не могу записать вас сам, но я записал ${d}, и вам перезвонят для подтверждения.`,
  checking: 'Минуту, сейчас проверю.',
  knowledge: (source, extract) => `Согласно документу «${source}»: ${extract}`,
  dontKnow: 'Извините, я этого не знаю. Могу записать ваши данные, и с вами свяжутся.',
  goodbye: 'Спасибо за звонок. До свидания!',
  cannotTransfer: 'К сожалению, сейчас я не могу перевести звонок, но могу записать ваши данные, и вам перезвонят.',
  bookingFound: (label) => `Вы записаны на ${label}.`,
  noBooking: 'Я не нашёл вашей записи.',
  cancelled: 'Ваша запись отменена. Могу ещё чем-нибудь помочь?',
  rescheduled: (label) => `Готово, ваша запись перенесена на ${label}. Могу ещё чем-нибудь помочь?`,
  toolError: 'Извините, что-то пошло не так. Попробуйте ещё раз, пожалуйста.',
  done: 'Готово. Могу ещё чем-нибудь помочь?',
  anythingElse: 'Могу ещё чем-нибудь помочь?',
  didNotCatch: 'Извините, я не расслышал. Повторите, пожалуйста.',
  or: 'или',
  hello: 'Здравствуйте! Чем могу помочь?',
  leadStart: 'К сожалению, у меня нет этой информации. Я могу записать ваши данные, и вам перезвонят.',
  leadAskName: 'На какое имя оставить заявку?',
  leadAskPhone: (name) => `Спасибо${name ? `, ${name}` : ''}. По какому номеру вам перезвонить?`,
  leadPhoneAgain: 'Извините, я не расслышал номер целиком. По какому номеру вам перезвонить? Назовите, пожалуйста, по цифрам.',
  leadDone: (name, phone, need) => `Спасибо, ${name}. Я записал ваш номер: ${phone}${need ? `, и вопрос: ${need}` : ''}. Вам скоро перезвонят. Могу ещё чем-нибудь помочь?`,
  again: 'Скажу иначе.',
  backToFlow: 'Вернёмся к записи.',
  noRecognizer: 'Извините, на этой линии я не могу распознать речь. Пожалуйста, напишите сообщение или воспользуйтесь клавиатурой.',
};

export const REPLIES: Record<Language, Replies> = { en, ru };
