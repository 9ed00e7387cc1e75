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
 * Latency of one bot turn in ms; null when a stage did not happen (no VAD, no retrieval, typed input…).
 * One timeline, measured from the caller's end of speech (the last voiced audio, per the VAD; without a VAD the
 * last recognised words), so the stages add up: speech → STT final → endpoint decision → LLM first token → TTS
 * first audio → first audio frame sent. See README "Latency, measured from the caller's voice".
 */
export interface TurnLatency {
  /** Caller speech onset → end of speech (how long the caller spoke). */
  speechMs?: number | null;
  /** End of speech → the recognizer's final for the utterance. */
  sttFinalMs?: number | null;
  /** End of speech → endpoint decision ("the caller is done"). */
  endpointMs: number | null;
  /** Retrieval of knowledge for the prompt (a duration, inside the LLM stage). */
  retrievalMs: number | null;
  /** End of speech → first LLM text token. */
  llmFirstTokenMs: number | null;
  /** End of speech → first TTS audio of the answer. */
  ttsFirstAudioMs: number | null;
  /** End of speech → first audio frame sent to the caller. */
  responseMs: number | null;
  /** Same as responseMs (kept for existing clients). */
  totalMs: number | null;
  /** Barge-in: caller speech onset → the line was cleared (the caller stops hearing the bot, server side). */
  bargeInOnsetToQuietMs?: number;
  /** Barge-in: onset → the interruption was committed (words or sustained speech confirmed it). */
  bargeInOnsetToCommitMs?: number;
  /** Barge-in: onset → the bot resumed (nothing confirmed it: a cough, "uh-huh", noise). Last one of the turn. */
  bargeInOnsetToResumeMs?: number;
  /** Barge-in: the interruption was committed → transport.clear() (0 when a pause had already cleared the line). */
  bargeInDetectToClearMs?: number;
}

export interface TranscriptTurn {
  role: 'caller' | 'bot' | 'system';
  text: string;
  /** ISO 8601 time the turn began. */
  ts: string;
  latency?: TurnLatency;
  interrupted?: boolean;
  /**
   * Bot turns: phrases the voice could not say — it refused them, or failed on them twice — skipped, never heard
   * (the text is what was said without them).
   */
  unsaid?: string[];
  /** Bot answers: phrases the safe-speech check changed or refused, with the reason (the text is what was spoken). */
  safety?: { reason: string; detail?: string }[];
  /**
   * Spoken caller turns: why the turn was judged over (end-of-turn.ts) — the score, 0–1, and the rules that
   * decided — so a caller who was cut off, or waited on, can be explained from the transcript.
   */
  endOfTurn?: { score: number; rule: string };
}
