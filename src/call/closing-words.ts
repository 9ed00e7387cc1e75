/**
 * Words that answer the bot's goodbye or hand-off rather than open a turn. Said over the model's goodbye
 * (end_call) or its hand-off to a person (transfer_call), they are no reason to keep the caller: the end or the
 * transfer goes ahead (call-session.ts). Anything else said over them takes them back.
 */
import { classify } from '../scenario/intents.js';
import { normalize } from '../scenario/language.js';

/** Assent and thanks, alone or strung together: "okay", "great, thanks", "thank you so much", "хорошо, спасибо". */
const ACKNOWLEDGEMENT = new RegExp(
  '^(?:(?:ok(?:ay)?|alright|all right|great|perfect|cheers|sure|thanks?|thank you(?: (?:so|very) much)?|you too|same to you|' +
  'спасибо(?: большое)?|хорошо|ладно|понятно|и вам(?: тоже)?|вам тоже)[\\s,.!]*)+$',
);

/** "okay", "great, thanks": agrees to what the bot is doing (a transfer: "no thanks" does not). */
export function isAcknowledgement(text: string): boolean {
  return ACKNOWLEDGEMENT.test(normalize(text));
}

/** A goodbye ("bye", "thanks, goodbye", "no thank you, that's all", "до свидания") or an acknowledgement. */
export function isClosingWords(text: string): boolean {
  return isAcknowledgement(text) || classify(normalize(text)) === 'goodbye';
}
