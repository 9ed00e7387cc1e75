/**
 * The options a call's STT and TTS sessions are opened with, built in one place for the session and for the
 * sessions opened ahead at the voice webhook (telephony/prewarm.ts): if the two drifted, every prewarmed
 * session would be thrown away unnoticed.
 */
import type { AudioFormat } from '../audio/format.js';
import type { ProviderSet, SttSessionOptions, TtsSessionOptions } from '../providers/types.js';
import { botKeyterms } from '../bookings/keyterms.js';
import type { BookingConfig } from '../bookings/config-schema.js';

export interface ProviderSessionInputs {
  language: 'en' | 'ru';
  voice?: string | undefined;
  sttModel?: string | undefined;
  ttsModel?: string | undefined;
  keyterms?: string[] | undefined;
}

export interface ProviderSessionOptions {
  stt: Omit<SttSessionOptions, 'signal'>;
  tts: TtsSessionOptions;
}

type BotForSessions = { name: string; language: 'en' | 'ru'; config: { voice?: string | undefined; booking?: BookingConfig | undefined } };

/**
 * What a bot's call asks of its providers: its language, the voice and models its providers were chosen with, and
 * the bot's own words (name, services, staff) as recognizer keyterms.
 */
export function sessionInputsFor(bot: BotForSessions, providers: ProviderSet): ProviderSessionInputs {
  const keyterms = botKeyterms(bot);
  return {
    language: bot.language, voice: providers.voice ?? bot.config.voice, sttModel: providers.sttModel, ttsModel: providers.ttsModel,
    ...(keyterms.length ? { keyterms } : {}),
  };
}

export function providerSessionOptions(inputs: ProviderSessionInputs, format: { input: AudioFormat; output: AudioFormat }): ProviderSessionOptions {
  return {
    stt: { format: format.input, language: inputs.language, model: inputs.sttModel, ...(inputs.keyterms ? { keyterms: inputs.keyterms } : {}) },
    tts: { format: format.output, language: inputs.language, voice: inputs.voice, model: inputs.ttsModel },
  };
}
