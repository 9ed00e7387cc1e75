/** What the session itself says (no LLM): re-prompts, time-outs, apologies. */
import type { Language } from '../providers/types.js';

export const SESSION_PHRASES: Record<Language, {
  reprompt: string;
  silenceGoodbye: string;
  maxDurationGoodbye: string;
  apology: string;
  transferFailed: string;
  shutdownGoodbye: string;
  /** An answer that ended with nothing to say (tool rounds used up, the model answered empty). */
  noAnswer: string;
  /** The caller spoke but the recognizer could not make out the words (a failed local decode). */
  notCaught: string;
}> = {
  en: {
    reprompt: 'Are you still there?',
    silenceGoodbye: "I haven't heard anything for a while, so I'll end the call now. Goodbye!",
    maxDurationGoodbye: "I'm sorry, we've reached the time limit for this call. Thank you for calling. Goodbye!",
    apology: "I'm sorry, I'm having technical difficulties. Please call again later. Goodbye!",
    transferFailed: "I'm sorry, I couldn't transfer the call. How else can I help?",
    shutdownGoodbye: "I'm sorry, I have to end the call now. Please call back in a minute. Goodbye!",
    noAnswer: "Sorry, I couldn't work that out just now. Could you say it another way?",
    notCaught: "Sorry, I didn't catch that. Could you say it again?",
  },
  ru: {
    reprompt: 'Вы ещё на линии?',
    silenceGoodbye: 'Я вас не слышу, поэтому завершаю звонок. До свидания!',
    maxDurationGoodbye: 'Извините, время звонка истекло. Спасибо за звонок. До свидания!',
    apology: 'Извините, у нас технические неполадки. Пожалуйста, перезвоните позже. До свидания!',
    transferFailed: 'Извините, не удалось перевести звонок. Чем ещё я могу помочь?',
    shutdownGoodbye: 'Извините, мне нужно завершить звонок. Перезвоните, пожалуйста, через минуту. До свидания!',
    noAnswer: 'Извините, сейчас не получилось разобраться. Можете сказать по-другому?',
    notCaught: 'Извините, я не расслышал. Повторите, пожалуйста.',
  },
};

/** Backchannels and fillers: spoken while the bot talks they mean "go on", not "stop". */
const FILLERS = new Set([
  'uh', 'um', 'uhm', 'er', 'ah', 'hm', 'hmm', 'mm', 'mhm', 'mmhmm', 'uh-huh', 'uhhuh', 'yeah', 'yep', 'ok', 'okay',
  'right', 'sure', 'aha', 'oh', 'ага', 'угу', 'ну', 'мм', 'ммм', 'э', 'эм', 'ээ', 'а', 'ой', 'ок', 'окей', 'так',
]);

/** Words that count toward an interruption. */
export function meaningfulWordCount(text: string): number {
  let n = 0;
  for (const raw of text.toLowerCase().split(/\s+/)) {
    const w = raw.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
    if (w && !FILLERS.has(w)) n++;
  }
  return n;
}
