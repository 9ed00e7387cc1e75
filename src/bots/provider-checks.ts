/**
 * Provider choices that cannot work for a bot, refused when the bot is saved (400 naming the field) rather than
 * found by the first caller: a voice the chosen TTS cannot take, a TTS model or a recognizer that cannot speak or
 * hear the bot's language. What merely degrades a bot on this server (no key for a cloud provider, only the local
 * embedder) stays a warning (capabilities.ts): that changes with the server's settings, these with the bot's.
 */
import { isUuid } from '../util/uuid.js';
import type { BotConfig } from './config-schema.js';
import { wantedTts, type ServerProviders } from './capabilities.js';

export interface ConfigProblem {
  field: string;
  message: string;
}

/** Cartesia models without Russian (removed from sonic-2; see shared/reference/protocols.md §3.4). */
const CARTESIA_MODEL_WITHOUT_RU = /^sonic-2(\b|-)/;

export function providerProblem(bot: { language: 'en' | 'ru'; config: BotConfig }, server: ServerProviders): ConfigProblem | null {
  const choice = bot.config.providers ?? {};
  if (choice.stt === 'local' && bot.language !== 'en') {
    return {
      field: 'body.config.providers.stt',
      message: 'config.providers.stt "local" hears English only; for a Russian bot choose "deepgram" or leave it unset',
    };
  }
  if (wantedTts(choice, server) === 'cartesia') {
    // Cartesia takes voice ids (UUIDs); a local voice name ("slt") would fail every utterance of every call.
    if (bot.config.voice !== undefined && !isUuid(bot.config.voice)) {
      return { field: 'body.config.voice', message: 'config.voice must be a Cartesia voice id (a UUID) when the bot speaks through Cartesia' };
    }
    if (bot.language === 'ru' && choice.ttsModel && CARTESIA_MODEL_WITHOUT_RU.test(choice.ttsModel)) {
      return { field: 'body.config.providers.ttsModel', message: `config.providers.ttsModel ${choice.ttsModel} has no Russian voice; use sonic-3 or leave it unset` };
    }
  }
  return null;
}
