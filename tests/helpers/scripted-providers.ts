/**
 * Scripted fakes of the provider interfaces for call-loop tests. They wait with the global timers, so tests
 * drive them deterministically with vitest fake timers.
 */
import type {
  LlmEvent, LlmProvider, LlmRequest, SttEvent, SttProvider, SttSession, SttSessionOptions, ToolCall, TtsProvider,
  TtsSession, TtsSessionOptions, TtsTurn,
} from '../../src/providers/types.js';
import { ParleyError } from '../../src/errors.js';
import { AsyncQueue } from '../../src/util/async-queue.js';

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------- STT ----------

export interface TimedSttEvent {
  /** ms after the previous scripted event. */
  afterMs: number;
  event: SttEvent;
}

/** What a provider adapter throws for a rejected API key: not worth retrying. */
function keyRejected(what: string): ParleyError {
  return new ParleyError('PARLEY_ERR_UPSTREAM', `${what}: rejected the API key (401)`, { provider: what, status: 401, retryable: false, account: true });
}

export class ScriptedStt implements SttProvider {
  readonly name = 'scripted-stt';
  opened = 0;
  /** Fail this many open() calls before succeeding. */
  failOpens = 0;
  /** Refuse every open as a vendor refuses a bad key (not retryable). */
  rejectOpens = false;
  audioFrames = 0;
  /** What the recognizer answers a finalize() with (a recognizer that decodes on request, as the local one does). */
  onFinalize: (() => SttEvent | null) | null = null;
  private current: AsyncQueue<SttEvent> | null = null;

  async open(_options: SttSessionOptions): Promise<SttSession> {
    this.opened++;
    if (this.rejectOpens) throw keyRejected('stt');
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error('stt open failed');
    }
    const queue = new AsyncQueue<SttEvent>();
    this.current = queue;
    return {
      pushAudio: () => {
        this.audioFrames++;
      },
      finalize: () => {
        const answer = this.onFinalize?.();
        if (answer) setTimeout(() => queue.push(answer), 20);
      },
      events: queue,
      close: async () => queue.close(),
    };
  }

  emit(event: SttEvent): void {
    this.current?.push(event);
  }

  /** Emits the events at their offsets (from now), one after the other. */
  async play(script: TimedSttEvent[]): Promise<void> {
    for (const step of script) {
      await delay(step.afterMs);
      this.emit(step.event);
    }
  }

  /** The session's stream ends without an error (as a recognizer process that exits would). */
  end(): void {
    this.current?.close();
  }

  /** The session fails: an error event, then the stream ends. */
  fail(recoverable = true): void {
    const q = this.current;
    q?.push({ type: 'error', error: new Error('stt session lost'), recoverable });
    q?.close();
  }
}

/** A caller sentence as Deepgram would deliver it: speech start, interims word by word, one final. */
export function saySentence(text: string, options: { wordMs?: number; endpointMs?: number; startAfterMs?: number } = {}): TimedSttEvent[] {
  const wordMs = options.wordMs ?? 250;
  const words = text.split(/\s+/).filter(Boolean);
  const out: TimedSttEvent[] = [{ afterMs: options.startAfterMs ?? 0, event: { type: 'speech_started', atMs: 0 } }];
  for (let i = 1; i <= words.length; i++) out.push({ afterMs: wordMs, event: { type: 'interim', text: words.slice(0, i).join(' ') } });
  out.push({ afterMs: options.endpointMs ?? 300, event: { type: 'final', text, endOfUtterance: true } });
  return out;
}

// ---------- LLM ----------

/**
 * `breakAfterText`: the stream fails with it once the text is out (a connection dropped mid-answer).
 * `finishReason: 'length'`: the answer stopped at the request's token limit.
 * `cutInToolCall`: the stream is cut inside tool call `index` (begun, never whole), the calls before it whole — as
 * from a provider that streams each call as it completes: with `error` it fails with it (a dropped connection),
 * without it stalls until aborted.
 */
export type ScriptedReply =
  | string
  | { text?: string; toolCalls?: ToolCall[]; error?: Error; stallMs?: number; breakAfterText?: Error; finishReason?: 'length'; cutInToolCall?: { index: number; error?: Error } };

export interface ScriptedLlmOptions {
  firstTokenMs?: number;
  /** Delay between streamed words. */
  tokenMs?: number;
}

export class ScriptedLlm implements LlmProvider {
  readonly name = 'scripted-llm';
  readonly requests: LlmRequest[] = [];
  aborted = 0;
  completed = 0;

  constructor(
    private readonly reply: (request: LlmRequest, index: number) => ScriptedReply,
    private readonly options: ScriptedLlmOptions = {},
  ) {}

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    const index = this.requests.length;
    // Snapshot: the session keeps appending to the same array.
    this.requests.push({ ...request, messages: request.messages.map((m) => ({ ...m })) });
    const r = this.reply(request, index);
    const reply = typeof r === 'string' ? { text: r } : r;
    try {
      await delay(this.options.firstTokenMs ?? 100, request.signal);
      if (reply.error) throw reply.error;
      const words = (reply.text ?? '').split(/(?<=\s)/).filter(Boolean);
      for (let i = 0; i < words.length; i++) {
        if (i > 0) await delay(this.options.tokenMs ?? 20, request.signal);
        yield { type: 'text', text: words[i] as string };
      }
      if (reply.breakAfterText) throw reply.breakAfterText;
      if (reply.stallMs) await delay(reply.stallMs, request.signal);
      for (const [i, call] of (reply.toolCalls ?? []).entries()) {
        yield { type: 'tool_call_start' };
        if (reply.cutInToolCall?.index === i) {
          if (reply.cutInToolCall.error) throw reply.cutInToolCall.error;
          await delay(2_147_483_647, request.signal);
        }
        yield { type: 'tool_call', call };
      }
      this.completed++;
      yield { type: 'done', finishReason: reply.finishReason ?? (reply.toolCalls?.length ? 'tool_calls' : 'stop') };
    } catch (err) {
      if (request.signal.aborted) {
        this.aborted++;
        return;
      }
      throw err;
    }
  }

  lastUserText(index = this.requests.length - 1): string {
    const msgs = this.requests[index]?.messages ?? [];
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i];
      if (m?.role === 'user') return m.content;
    }
    return '';
  }
}

// ---------- TTS ----------

export interface ScriptedTtsOptions {
  firstAudioMs?: number;
  bytesPerWord?: number;
  /** Delay between chunks (one chunk per word). */
  chunkMs?: number;
}

export class ScriptedTts implements TtsProvider {
  readonly name = 'scripted-tts';
  readonly texts: string[] = [];
  turns = 0;
  cancels = 0;
  /** Turns to fail (throw from the audio stream) before producing audio. */
  failTurns = 0;
  failOpens = 0;
  /** Refuse every open as a vendor refuses a bad key (not retryable). */
  rejectOpens = false;
  /** Opens that never settle (a provider whose socket never answers). */
  hangOpens = 0;
  /** Turns whose audio never comes and which ignore their abort signal. */
  hangTurns = 0;
  /** Phrases (by their text) answered as done with no audio at all, as a voice may end a context it made nothing of. */
  noAudioFor: ((text: string) => boolean) | null = null;
  closed = 0;

  constructor(private readonly options: ScriptedTtsOptions = {}) {}

  async open(_options: TtsSessionOptions): Promise<TtsSession> {
    if (this.rejectOpens) throw keyRejected('tts');
    if (this.failOpens > 0) {
      this.failOpens--;
      throw new Error('tts open failed');
    }
    if (this.hangOpens > 0) {
      this.hangOpens--;
      return new Promise<TtsSession>(() => {});
    }
    return {
      startTurn: (signal) => this.startTurn(signal),
      close: async () => {
        this.closed++;
      },
    };
  }

  private startTurn(signal: AbortSignal): TtsTurn {
    this.turns++;
    const input = new AsyncQueue<string>();
    let cancelled = false;
    const shouldFail = this.failTurns > 0;
    if (shouldFail) this.failTurns--;
    const shouldHang = this.hangTurns > 0;
    if (shouldHang) this.hangTurns--;
    const o = this.options;
    const record = (text: string): void => void this.texts.push(text.trim());
    const noAudio = this.noAudioFor;
    async function* audio(): AsyncIterable<Uint8Array> {
      if (shouldHang) await new Promise<never>(() => {});
      for await (const text of input) {
        record(text);
        try {
          await delay(o.firstAudioMs ?? 80, signal);
        } catch {
          return;
        }
        if (shouldFail) throw new Error('tts generation failed');
        if (noAudio?.(text.trim())) continue;
        const words = text.split(/\s+/).filter(Boolean);
        for (let i = 0; i < words.length; i++) {
          if (cancelled || signal.aborted) return;
          if (i > 0) {
            try {
              await delay(o.chunkMs ?? 10, signal);
            } catch {
              return;
            }
          }
          yield new Uint8Array(o.bytesPerWord ?? 2400);
        }
      }
    }
    return {
      pushText: (text) => input.push(text),
      end: () => input.close(),
      audio: audio(),
      cancel: async () => {
        if (!cancelled) this.cancels++;
        cancelled = true;
        input.abort();
      },
    };
  }
}

// ---------- caller VAD ----------

import type { CallerVoiceFactory, VoiceEvent } from '../../src/call/caller-voice.js';

/** A caller VAD driven by the test: emit onsets and ends of speech at chosen clock times. */
export class ScriptedVoice {
  frames = 0;
  closed = false;
  private onEvent: ((e: VoiceEvent) => void) | null = null;
  readonly factory: CallerVoiceFactory = async ({ onEvent }) => {
    this.onEvent = onEvent;
    return {
      push: () => void this.frames++,
      close: async () => {
        this.closed = true;
      },
    };
  };
  /** Speech began `agoMs` before now (the VAD reports an onset a little after it happened). */
  onset(agoMs = 0): void {
    this.onEvent?.({ type: 'onset', at: Date.now() - agoMs });
  }
  end(agoMs = 0): void {
    this.onEvent?.({ type: 'end', at: Date.now() - agoMs });
  }
}
