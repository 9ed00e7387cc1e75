/**
 * Counting decorators around a call's providers: what the call consumed, by provider and model.
 * The LLM sums the usage its adapter reports (as it grows, so an answer cut off counts what it consumed); TTS
 * sessions count the characters of text sent; STT sessions count the bytes of audio pushed (one number addition
 * per frame — the hot path — converted to ms by the format only when read); the questions looked up in the
 * company's documents count their embedding tokens (CallContext.onEmbeddingUsage, the turn's retrieval). Nothing here writes, logs or allocates per frame; `usageOf()` is read once, at the end.
 *
 * TTS convention: characters actually sent to the synthesizer. A turn of the phrase cache (providers/tts/
 * phrase-cache.ts) adds its own count to its session's counter — 0 for a phrase replayed from the cache; any other
 * turn counts the text pushed into it. The meter never holds a turn: a call says hundreds of phrases.
 */
import { bytesPerMs } from '../audio/format.js';
import { hasSynthesisCount } from '../providers/tts/phrase-cache.js';
import type {
  LlmEvent, LlmProvider, LlmRequest, LlmUsage, ProviderSet, SttProvider, SttSession, SttSessionOptions, TtsProvider, TtsSession, TtsSessionOptions, TtsTurn,
} from '../providers/types.js';

/** What is counted; each row of call_usage is one (kind, provider, model). Units: see UNITS. */
export const USAGE_KINDS = ['stt_audio_ms', 'tts_chars', 'llm_input_tokens', 'llm_cached_input_tokens', 'llm_output_tokens', 'embedding_tokens'] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

export interface UsageItem {
  kind: UsageKind;
  provider: string;
  /** '' when the provider names none. */
  model: string;
  quantity: number;
}

/** One LLM answer's usage as rows: input split into uncached and cached (the vendor's input count holds both). */
export function llmUsageItems(provider: string, model: string, usage: LlmUsage): UsageItem[] {
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  return [
    { kind: 'llm_input_tokens', provider, model, quantity: usage.inputTokens - cached },
    { kind: 'llm_cached_input_tokens', provider, model, quantity: cached },
    { kind: 'llm_output_tokens', provider, model, quantity: usage.outputTokens },
  ];
}

interface SttCounter {
  bytes: number;
  bytesPerMs: number;
  provider: string;
  model: string;
}

/** Characters sent to one TTS session's synthesizer (turns add to it; see SynthesisCount). */
interface TtsCounter {
  chars: number;
  provider: string;
  model: string;
}

/** The counters of one call: a few per session, never one per frame or per turn. */
export class CallUsageMeter {
  private readonly stt: SttCounter[] = [];
  private readonly tts: TtsCounter[] = [];
  private readonly sums = new Map<string, UsageItem>();

  add(kind: UsageKind, provider: string, model: string, quantity: number): void {
    if (!(quantity > 0)) return;
    const key = `${kind}\u0000${provider}\u0000${model}`;
    const item = this.sums.get(key);
    if (item) item.quantity += quantity;
    else this.sums.set(key, { kind, provider, model, quantity });
  }

  /** A counter for one STT session (a reconnect opens another; all are summed). */
  sttCounter(provider: string, model: string, options: SttSessionOptions): SttCounter {
    const counter = { bytes: 0, bytesPerMs: bytesPerMs(options.format), provider, model };
    this.stt.push(counter);
    return counter;
  }

  /** A counter for one TTS session: its turns add the characters they send to the synthesizer. */
  ttsCounter(provider: string, model: string): TtsCounter {
    const counter = { chars: 0, provider, model };
    this.tts.push(counter);
    return counter;
  }

  /** Everything counted so far, one item per (kind, provider, model), quantities > 0 only. */
  items(): UsageItem[] {
    const sums = new Map([...this.sums].map(([k, v]) => [k, { ...v }]));
    for (const t of this.tts) {
      if (!(t.chars > 0)) continue;
      const key = `tts_chars\u0000${t.provider}\u0000${t.model}`;
      const item = sums.get(key);
      if (item) item.quantity += t.chars;
      else sums.set(key, { kind: 'tts_chars', provider: t.provider, model: t.model, quantity: t.chars });
    }
    const out = new Map<string, UsageItem>();
    for (const c of this.stt) {
      const key = `${c.provider}\u0000${c.model}`;
      const item = out.get(key) ?? { kind: 'stt_audio_ms' as const, provider: c.provider, model: c.model, quantity: 0 };
      item.quantity += c.bytes / c.bytesPerMs;
      out.set(key, item);
    }
    const stt = [...out.values()].map((i) => ({ ...i, quantity: Math.round(i.quantity) })).filter((i) => i.quantity > 0);
    return [...stt, ...sums.values()];
  }
}

function modelOf(provider: object, given: string | undefined): string {
  if (given) return given;
  const m = (provider as { model?: unknown }).model;
  return typeof m === 'string' ? m : '';
}

export class CountingLlm implements LlmProvider {
  readonly name: string;
  readonly model?: string;
  structured?: LlmProvider['structured'];

  constructor(private readonly inner: LlmProvider, private readonly meter: CallUsageMeter) {
    this.name = inner.name;
    if (inner.model !== undefined) this.model = inner.model;
    if (inner.structured) this.structured = (request) => inner.structured!(request);
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmEvent> {
    const model = request.model ?? this.inner.model ?? '';
    // The latest figure the adapter reported, counted however the answer ends: done, abandoned by its consumer
    // (a barge-in, a hang-up), or failed.
    let last: LlmUsage | undefined;
    const onUsage = (usage: LlmUsage): void => {
      last = { ...usage };
      request.onUsage?.(usage);
    };
    try {
      yield* this.inner.stream({ ...request, onUsage });
    } finally {
      if (last) for (const item of llmUsageItems(this.name, model, last)) this.meter.add(item.kind, item.provider, item.model, item.quantity);
    }
  }
}

export class CountingStt implements SttProvider {
  readonly name: string;
  constructor(private readonly inner: SttProvider, private readonly meter: CallUsageMeter) {
    this.name = inner.name;
  }

  async open(options: SttSessionOptions): Promise<SttSession> {
    const session = await this.inner.open(options);
    const counter = this.meter.sttCounter(this.name, modelOf(this.inner, options.model), options);
    return {
      // Audio a failed session refused, or took but never sent, is not counted: the session after it sends it.
      pushAudio(frame: Uint8Array) {
        const taken = session.pushAudio(frame);
        if (taken !== false) counter.bytes += frame.byteLength;
        return taken;
      },
      finalize: () => session.finalize(),
      unsent() {
        const audio = session.unsent?.() ?? null;
        if (audio) counter.bytes -= audio.byteLength;
        return audio;
      },
      get events() {
        return session.events;
      },
      close: () => session.close(),
    };
  }
}

export class CountingTts implements TtsProvider {
  readonly name: string;
  constructor(private readonly inner: TtsProvider, private readonly meter: CallUsageMeter) {
    this.name = inner.name;
  }

  async open(options: TtsSessionOptions): Promise<TtsSession> {
    const session = await this.inner.open(options);
    const counter = this.meter.ttsCounter(this.name, modelOf(this.inner, options.model));
    return {
      startTurn(signal: AbortSignal): TtsTurn {
        const turn = session.startTurn(signal);
        // A turn of the phrase cache adds what it really synthesised (0 for a replayed phrase); any other turn
        // counts the text pushed into it.
        const selfCounting = hasSynthesisCount(turn);
        if (selfCounting) turn.countSynthesisInto(counter);
        return {
          pushText(text: string): void {
            if (!selfCounting) counter.chars += text.length;
            turn.pushText(text);
          },
          end: () => turn.end(),
          get audio() {
            return turn.audio;
          },
          cancel: () => turn.cancel(),
        };
      },
      close: () => session.close(),
    };
  }
}

/** The call's providers, counted into `meter`. */
export function countingProviders(set: ProviderSet, meter: CallUsageMeter): ProviderSet {
  return { ...set, stt: new CountingStt(set.stt, meter), llm: new CountingLlm(set.llm, meter), tts: new CountingTts(set.tts, meter) };
}
