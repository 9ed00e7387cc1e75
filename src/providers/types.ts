/**
 * The small streaming interfaces the call loop talks to. The loop never names a vendor:
 * a provider is chosen per bot (with server-wide defaults) and handed to the loop.
 * Every long-running operation takes an AbortSignal; abort means "stop now, release everything".
 */
import type { AudioFormat } from '../audio/format.js';

export type Language = 'en' | 'ru';

// ---------- speech-to-text ----------

export type SttEvent =
  /** The recognizer heard speech begin (Deepgram SpeechStarted, or a local VAD). `atMs` = ms since session open. */
  | {
      type: 'speech_started';
      atMs: number;
      /**
       * A segmenting recognizer (the local one): it answers every speech start with a `final` or an
       * `utterance_end`, so until it has, the words so far are not the whole turn.
       */
      segmented?: boolean;
    }
  /** A partial hypothesis for the words being spoken; may change. */
  | { type: 'interim'; text: string }
  /** A finalized segment. `endOfUtterance` = the recognizer also judged the caller finished (speech_final). */
  | {
      type: 'final';
      text: string;
      endOfUtterance: boolean;
      /**
       * How sure the recognizer is of the words that end this final (0–1), where it says: Deepgram's confidence in
       * the last segment's transcript; the local recognizer's posterior of the last two words. A sentence cut by a
       * pause tends to end on words the recognizer is unsure of (end-of-turn.ts weighs it).
       */
      confidence?: number;
    }
  /** The recognizer judged the utterance ended after its last final (Deepgram UtteranceEnd). */
  | { type: 'utterance_end' }
  /**
   * The recognizer heard the caller speak but could not make out the words (the local recognizer: a segment whose
   * decode failed twice). It answers the segment's speech start like an `utterance_end`, and the call asks the
   * caller to say it again rather than leave them in silence. The session goes on.
   */
  | { type: 'unheard'; error: Error }
  /**
   * Voice activity from a VAD the recognizer runs itself (the local recognizer's Silero): `ready` first, once per
   * session — the call then runs no VAD of its own — then each onset and end of the caller's voice, which happened
   * `agoMs` of audio before the newest audio the recognizer had received when it reported it.
   */
  | { type: 'voice'; activity: 'ready' | 'onset' | 'end'; agoMs: number }
  /**
   * The session failed; `recoverable` = a reconnect is worth one try. After this event the iterator ends. The call
   * passes it on to the caller's turn when it opens a new session (stt-connection.ts): the lost one's words stand.
   */
  | { type: 'error'; error: Error; recoverable: boolean };

export interface SttSessionOptions {
  /** The format of the audio that will be pushed (the transport's input format). */
  format: AudioFormat;
  language: Language;
  model?: string;
  /** Words worth biasing toward (company names, services). */
  keyterms?: string[];
  /**
   * What the bot just asked the caller for, read at the start of each utterance: a recognizer that can may decode
   * the answer with a model for that kind of input (the local one does; Deepgram ignores it).
   */
  expected?: { current(): ExpectedInput | null };
  signal: AbortSignal;
}

/** The kind of answer the bot's last question expects (a per-prompt grammar, as in VoiceXML). */
export type ExpectedInput = 'name' | 'spelling' | 'phone' | 'datetime' | 'yesno';

export interface SttSession {
  /**
   * Hot path: called once per inbound frame (20 ms). Must not block, allocate heavily or log. `false`: the session
   * can no longer send (its connection failed, and the call has not seen the failure yet) and did not take the
   * frame: the caller keeps it for the session that replaces this one. Anything else: taken.
   */
  pushAudio(frame: Uint8Array): boolean | void;
  /** Ask the recognizer to flush what it has (Deepgram Finalize); `false`, as for pushAudio, when not taken. */
  finalize(): boolean | void;
  /**
   * After the session failed: the audio it took but never sent (held for a packet when its connection failed), for
   * the session that replaces it; null when none. Asked once.
   */
  unsent?(): Uint8Array | null;
  /** Events until close or error. */
  readonly events: AsyncIterable<SttEvent>;
  close(): Promise<void>;
}

export interface SttProvider {
  readonly name: string;
  /** The model a session runs when its options name none (what usage records against; a wrapper passes it on). */
  readonly model?: string;
  open(options: SttSessionOptions): Promise<SttSession>;
}

// ---------- text-to-speech ----------

export interface TtsSessionOptions {
  /** The format audio must come out in (the transport's output format). */
  format: AudioFormat;
  language: Language;
  voice?: string;
  model?: string;
}

/** One generation: the bot's answer for one agent turn, fed phrase by phrase as the LLM produces it. */
export interface TtsTurn {
  /** Queue a phrase (a clause or sentence, with its trailing space/punctuation). */
  pushText(text: string): void;
  /** No more text for this turn. */
  end(): void;
  /** Audio in the session's format, in order; ends when the turn is fully synthesized or cancelled. */
  readonly audio: AsyncIterable<Uint8Array>;
  /** Barge-in: stop generating now. Idempotent; never throws. */
  cancel(): Promise<void>;
}

export interface TtsSession {
  startTurn(signal: AbortSignal): TtsTurn;
  close(): Promise<void>;
}

export interface TtsProvider {
  readonly name: string;
  /** The model a session runs when its options name none (what usage records against; a wrapper passes it on). */
  readonly model?: string;
  /** Opens a session for one call (Cartesia: one websocket per call, one context per turn). */
  open(options: TtsSessionOptions): Promise<TtsSession>;
}

// ---------- LLM ----------

export interface ToolCall {
  id: string;
  name: string;
  /** Parsed JSON arguments ({} when they could not be read). */
  arguments: Record<string, unknown>;
  /**
   * Why the model's arguments could not be read (not JSON, not an object), with the start of what it sent. Such a
   * call is never run: it is answered with an error result the model can react to.
   */
  invalidArguments?: string;
}

export type ChatMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema (object) of the arguments. */
  parameters: Record<string, unknown>;
}

export type LlmEvent =
  | { type: 'text'; text: string }
  /**
   * The model has begun writing a tool call (its whole call follows, before `done`). A stream that breaks after it
   * and before the call comes whole has left what it meant to do undone: the caller must not be left with the
   * words said before it ("Let me check that for you.") as the answer.
   */
  | { type: 'tool_call_start' }
  | { type: 'tool_call'; call: ToolCall }
  /** `usage`: what the vendor reported this response consumed, when it did (OpenAI, Anthropic). */
  | { type: 'done'; finishReason: 'stop' | 'tool_calls' | 'length' | 'other'; usage?: LlmUsage };

/** Tokens one LLM response consumed. `inputTokens` includes `cachedInputTokens` (read from the vendor's cache). */
export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}

export interface LlmRequest {
  /** The bot's instructions: the same on every turn of a call. */
  system: string;
  messages: ChatMessage[];
  /**
   * What this turn alone brings (retrieved company knowledge), kept out of `system` so that the front of the prompt
   * — system, tools, the conversation so far — stays the same from turn to turn and the vendors' prompt caches keep
   * it. Each adapter says where it goes.
   */
  context?: string;
  tools: ToolSpec[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  signal: AbortSignal;
  /**
   * Told what the answer has consumed so far, as soon as the vendor says and again as it grows (the last call is the
   * answer's usage): an answer cut off by a barge-in, a hang-up or an error is billed for what it consumed too. Where
   * the vendor reports usage only at the end (OpenAI), an answer cut off before is estimated.
   */
  onUsage?: (usage: LlmUsage) => void;
}

/** One answer that must follow a JSON Schema (post-call analysis). */
export interface StructuredRequest {
  system: string;
  user: string;
  /** An object schema. */
  schema: Record<string, unknown>;
  /** Names the schema (OpenAI) or the forced tool (Anthropic), e.g. record_call_analysis. */
  name: string;
  /** OpenAI strict structured output (every property required, no additional properties). */
  strict?: boolean;
  maxTokens?: number;
  signal?: AbortSignal;
  /** Asking again: the previous answer and why it was refused, shown to the model as its own turn. */
  retry?: { answer: unknown; error: string };
  /** Told what the answer consumed, as the vendor reported it (it bills every answer, a refused one too). */
  onUsage?: (usage: LlmUsage) => void;
}

export interface LlmProvider {
  readonly name: string;
  /** The default model, where the provider has one (labels, logs). */
  readonly model?: string;
  /**
   * Streams one assistant response. Tool calls are emitted whole (arguments parsed) before `done`, each announced by
   * a `tool_call_start` as soon as the model begins it. An aborted stream ends quietly, without `done`: whoever aborted
   * it knows why (a barge-in is no failure; the turn's own stall or budget timer is one).
   */
  stream(request: LlmRequest): AsyncIterable<LlmEvent>;
  /**
   * One answer following `schema`: the parsed JSON (or the raw text when it is not JSON), unvalidated — the
   * caller validates. Cloud LLMs only; the scenario engine has none.
   */
  structured?(request: StructuredRequest): Promise<unknown>;
}

/** The providers a call runs on. */
export interface ProviderSet {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  voice?: string | undefined;
  sttModel?: string | undefined;
  ttsModel?: string | undefined;
}

// ---------- embeddings ----------

export interface Embedder {
  readonly name: string;
  /** The model its usage is recorded under, when it has one. */
  readonly model?: string;
  readonly dimensions: number;
  /**
   * One vector per input, same order. Vectors are L2-normalised. `usage.tokens` grows by the tokens the vendor
   * billed for them (an estimate where the vendor reports none).
   */
  embed(texts: string[], signal?: AbortSignal, usage?: EmbeddingTokens): Promise<Float32Array[]>;
}

/** Running count of the tokens an embedder was billed for. */
export interface EmbeddingTokens {
  tokens: number;
}
