/** Shared types of the call loop: clock, logger, transcript turns and per-turn latency. */

/** Time source and timers, injectable so tests drive the loop with fake time. `now()` is epoch ms. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** pino-compatible subset. */
export interface CallLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: CallLogger = { info() {}, warn() {}, error() {} };

/**
 * Latency of one bot turn in ms; null when a stage did not happen (e.g. no retrieval, no LLM for a tool `say`).
 * Stages: caller's last words recognised → utterance judged finished (endpoint) → LLM first token → TTS first
 * audio → first audio sent to the transport.
 */
export interface TurnLatency {
  /** Last transcript with new words → the event that closed the utterance (endpointing delay). */
  endpointMs: number | null;
  retrievalMs: number | null;
  /** Utterance closed → first LLM text token (includes retrieval). */
  llmFirstTokenMs: number | null;
  /** First phrase handed to TTS → its first audio. */
  ttsFirstAudioMs: number | null;
  /** Utterance closed → first audio frame handed to the transport. */
  responseMs: number | null;
  /** Last recognised words → first audio frame sent: what the caller perceives as the gap. */
  totalMs: number | null;
  /** Barge-in only: the interruption was detected → transport.clear() sent. */
  bargeInDetectToClearMs?: number;
  /** Barge-in only: caller speech began → transport.clear() sent. */
  bargeInSpeechToClearMs?: number;
}

export interface TranscriptTurn {
  role: 'caller' | 'bot' | 'system';
  text: string;
  /** ISO 8601 time the turn began. */
  ts: string;
  latency?: TurnLatency;
  interrupted?: boolean;
}
