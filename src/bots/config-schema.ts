/**
 * A bot's `config` JSONB, validated on every create/update with the same schema the OpenAPI document shows.
 * Sections owned by feature modules (booking, outcomes) are defined there and composed here.
 */
import { Type, type Static } from '@sinclair/typebox';
import { BookingConfigSchema } from '../bookings/config-schema.js';
import { BookingFlowConfigSchema } from '../bookings/flow/config.js';
import { OutcomeConfigSchema } from '../outcomes/config-schema.js';
import { PrivacyConfigSchema } from '../privacy/config-schema.js';

export const LanguageSchema = Type.Union([Type.Literal('en'), Type.Literal('ru')], {
  description: 'Conversation language: en or ru',
});

/**
 * A provider's name for a model or voice: printable ASCII without spaces, never empty. An empty model was sent as
 * is (every call's recognizer, LLM or TTS refused it); a space or control character is in no vendor's ids.
 */
const ProviderId = (o: { maxLength: number; description?: string }) => Type.String({ minLength: 1, pattern: '^[\\x21-\\x7E]+$', ...o });

export const ProviderChoiceSchema = Type.Object(
  {
    stt: Type.Optional(Type.Union([Type.Literal('deepgram'), Type.Literal('local')])),
    sttModel: Type.Optional(ProviderId({ maxLength: 100 })),
    llm: Type.Optional(Type.Union([Type.Literal('openai'), Type.Literal('anthropic'), Type.Literal('local')])),
    llmModel: Type.Optional(ProviderId({ maxLength: 100 })),
    tts: Type.Optional(Type.Union([Type.Literal('cartesia'), Type.Literal('local')])),
    ttsModel: Type.Optional(ProviderId({ maxLength: 100 })),
  },
  { additionalProperties: false, description: 'Per-bot provider choices; unset fields use the server defaults' },
);

export const CallLimitsSchema = Type.Object(
  {
    maxCallSec: Type.Optional(Type.Integer({ minimum: 30, maximum: 14_400, default: 1800 })),
    silenceRepromptSec: Type.Optional(Type.Integer({ minimum: 2, maximum: 120, default: 8 })),
    silenceHangupSec: Type.Optional(Type.Integer({ minimum: 5, maximum: 600, default: 30 })),
    /** Caller speech shorter than this never interrupts the bot (coughs, "uh-huh"). */
    bargeInMinMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 5000, default: 300 })),
    bargeInMinWords: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 2 })),
    endpointingMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 5000, default: 300 })),
    /** Caller speech (VAD) this long over the bot commits an interruption even before any word is recognised. */
    bargeInSustainedMs: Type.Optional(Type.Integer({ minimum: 200, maximum: 10_000, default: 1000 })),
    /** After the caller goes quiet on a complete sentence, wait this long before answering. */
    endOfTurnCompleteWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3000, default: 0 })),
    /** After the caller goes quiet mid-sentence ("I'd like to book for…", "um", digits), wait up to this long. */
    endOfTurnMaxWaitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 1500 })),
    /**
     * The most of the conversation sent to the LLM each turn, in characters (messages, tool calls, tool results).
     * Past it the oldest exchanges are dropped, down to half of it (src/call/history-window.ts); the transcript
     * keeps everything.
     */
    llmHistoryChars: Type.Optional(Type.Integer({ minimum: 2000, maximum: 400_000, default: 24_000 })),
  },
  { additionalProperties: false },
);

/**
 * Text spoken to callers (a greeting, a recording notice, a voicemail): no control characters but tab and line
 * breaks — no voice reads them, and the XML of Twilio's TwiML cannot carry them (one in a notice broke every call).
 */
export const SpokenText = (o: { minLength?: number; maxLength: number; description: string }) =>
  Type.String({ ...o, pattern: '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F]*$' });

/** Call recording (src/recordings): off unless enabled. */
export const RecordingConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Record this bot\'s calls: Twilio calls dual-channel by Twilio, web calls as a stereo WAV (caller left, bot right) on this server' }),
    notice: Type.Optional(SpokenText({ minLength: 1, maxLength: 300, description: 'Said to phone callers before the conversation, e.g. "This call is recorded." (Twilio calls; in the bot\'s language)' })),
  },
  { additionalProperties: false },
);

/** Whether the bot's calls are recorded, and the notice phone callers hear first. */
export function recordingOf(config: BotConfig): { enabled: boolean; notice: string | null } {
  return { enabled: config.recording?.enabled === true, notice: config.recording?.notice ?? null };
}

export const BotConfigSchema = Type.Object(
  {
    greeting: SpokenText({ minLength: 1, maxLength: 1000, description: 'Spoken immediately on connect' }),
    systemPrompt: Type.String({ maxLength: 20_000, default: '', description: 'Instructions for the LLM' }),
    voice: Type.Optional(ProviderId({ maxLength: 200, description: 'TTS voice id (Cartesia voice UUID or local voice name)' })),
    providers: Type.Optional(ProviderChoiceSchema),
    transferNumber: Type.Optional(Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164 number for transfer_call' })),
    limits: Type.Optional(CallLimitsSchema),
    /** Browser origins allowed to open web calls for this bot (exact match, e.g. https://example.com). */
    allowedOrigins: Type.Optional(Type.Array(Type.String({ maxLength: 300 }), { maxItems: 50 })),
    booking: Type.Optional(BookingConfigSchema),
    bookingFlow: Type.Optional(BookingFlowConfigSchema),
    outcomes: Type.Optional(OutcomeConfigSchema),
    safety: Type.Optional(Type.Object(
      {
        blocklist: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 200, description: 'Words or phrases the bot never says (whole words, any case); an answer containing one is replaced by a fixed fallback' })),
      },
      { additionalProperties: false, description: 'Safe speech: what an LLM answer is checked against before it is spoken' },
    )),
    privacy: Type.Optional(PrivacyConfigSchema),
    recording: Type.Optional(RecordingConfigSchema),
  },
  { additionalProperties: false },
);

export type BotConfig = Static<typeof BotConfigSchema>;
export type CallLimits = Required<Static<typeof CallLimitsSchema>>;

export const DEFAULT_LIMITS: CallLimits = {
  maxCallSec: 1800,
  silenceRepromptSec: 8,
  silenceHangupSec: 30,
  bargeInMinMs: 300,
  bargeInMinWords: 2,
  endpointingMs: 300,
  bargeInSustainedMs: 1000,
  endOfTurnCompleteWaitMs: 0,
  endOfTurnMaxWaitMs: 1500,
  llmHistoryChars: 24_000,
};

export function limitsOf(config: BotConfig): CallLimits {
  return { ...DEFAULT_LIMITS, ...(config.limits ?? {}) };
}
