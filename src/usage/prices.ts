/**
 * Unit prices from the server's PRICE_* settings (config.ts), per provider: a usage item's cost is its quantity
 * times its provider's price for its kind. A provider without a price (local engines, 'none', web calls) costs 0.
 * Prices are per provider, not per model: one server normally runs one model per vendor.
 */
import type { Config } from '../config.js';
import type { UsageKind } from './counting.js';

/**
 * Every kind GET /v1/usage reports: telephony minutes (from the calls' duration), STT seconds (stored as ms) and
 * the other counted kinds as stored.
 */
export type ReportedKind = Exclude<UsageKind, 'stt_audio_ms'> | 'stt_seconds' | 'telephony_minutes';

/** A stored kind as reported, and the factor from its stored unit to the reported one. */
export function reported(kind: UsageKind): { kind: ReportedKind; factor: number } {
  return kind === 'stt_audio_ms' ? { kind: 'stt_seconds', factor: 1 / 1000 } : { kind, factor: 1 };
}

export const UNITS: Record<ReportedKind, string> = {
  telephony_minutes: 'minutes',
  stt_seconds: 'seconds',
  tts_chars: 'characters',
  llm_input_tokens: 'tokens',
  llm_cached_input_tokens: 'tokens',
  llm_output_tokens: 'tokens',
  embedding_tokens: 'tokens',
};

/** Price per one reported unit (per minute, second, character, token), by provider and kind. */
export type PriceTable = Record<string, Partial<Record<ReportedKind, number>>>;

export interface Prices {
  currency: string;
  table: PriceTable;
}

export function pricesFrom(config: Config): Prices {
  const perMtok = (x: number): number => x / 1_000_000;
  return {
    currency: config.PRICE_CURRENCY,
    table: {
      // Telephony: the item's provider is 'twilio' and its model the direction.
      'twilio:inbound': { telephony_minutes: config.PRICE_TWILIO_INBOUND_PER_MIN },
      'twilio:outbound': { telephony_minutes: config.PRICE_TWILIO_OUTBOUND_PER_MIN },
      deepgram: { stt_seconds: config.PRICE_DEEPGRAM_PER_MIN / 60 },
      cartesia: { tts_chars: config.PRICE_CARTESIA_PER_MCHAR / 1_000_000 },
      openai: {
        llm_input_tokens: perMtok(config.PRICE_OPENAI_INPUT_PER_MTOK),
        llm_cached_input_tokens: perMtok(config.PRICE_OPENAI_CACHED_INPUT_PER_MTOK),
        llm_output_tokens: perMtok(config.PRICE_OPENAI_OUTPUT_PER_MTOK),
        embedding_tokens: perMtok(config.PRICE_OPENAI_EMBEDDING_PER_MTOK),
      },
      // The local hashing embedder (provider 'local') costs nothing: no entry, price 0.
      anthropic: {
        llm_input_tokens: perMtok(config.PRICE_ANTHROPIC_INPUT_PER_MTOK),
        llm_cached_input_tokens: perMtok(config.PRICE_ANTHROPIC_CACHED_INPUT_PER_MTOK),
        llm_output_tokens: perMtok(config.PRICE_ANTHROPIC_OUTPUT_PER_MTOK),
      },
    },
  };
}

/** Cost of `quantity` reported units, rounded to 1e-6 of the currency. */
export function costOf(prices: Prices, kind: ReportedKind, provider: string, model: string, quantity: number): number {
  const key = kind === 'telephony_minutes' ? `${provider}:${model}` : provider;
  const unit = prices.table[key]?.[kind] ?? 0;
  return round6(unit * quantity);
}

export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
