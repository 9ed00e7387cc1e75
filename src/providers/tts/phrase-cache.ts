/**
 * Remembers the audio of short phrases, so the ones a bot says on every call — its greeting, "Are you still
 * there?", goodbyes, and short answers that recur — play at once and cost no synthesis. A decorator around any
 * TtsProvider: sessions, turns and failures behave as the wrapped provider's, and a turn still fed text after it
 * started (streamed LLM output) passes straight through, uncached.
 *
 * Only turns that produced all their audio are stored (not cancelled, not failed); entries are evicted least
 * recently used first once the cache holds more than its byte budget. The key is (engine, text, voice, model,
 * language, format), so bots of different companies share a phrase only when all of it is identical; what that
 * reveals is timing (a shared phrase starts a little sooner), not content.
 *
 * Usage: each turn counts the characters it actually handed to the synthesizer (see SynthesisCount): 0 for a
 * phrase replayed from the cache or a turn cancelled before synthesis began, the whole text otherwise. The usage
 * meter (src/usage/counting.ts) counts that, not the text the call asked for.
 */
import type { TtsProvider, TtsSession, TtsSessionOptions, TtsTurn } from '../types.js';

export interface PhraseCacheOptions {
  /** Byte budget for all stored audio. */
  maxBytes: number;
  /** Longer phrases are not stored (they rarely repeat). Default 240 characters. */
  maxPhraseChars?: number;
  /** Replayed audio is handed out in slices of this many bytes (default 100 ms of the session's format). */
  sliceMs?: number;
}

/**
 * A TTS turn that counts the characters it hands to the synthesizer itself: given a counter, it adds to it what
 * it has sent so far and everything it sends later (the usage meter gives one counter per session and never holds
 * the turn).
 */
export interface SynthesisCount {
  countSynthesisInto(counter: { chars: number }): void;
}

export const hasSynthesisCount = (turn: object): turn is SynthesisCount =>
  typeof (turn as Partial<SynthesisCount>).countSynthesisInto === 'function';

export interface PhraseCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/** The phrases of every TTS engine, under one byte budget (least recently used evicted first). */
export class PhraseStore {
  private readonly map = new Map<string, Buffer>();
  bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: Buffer): void {
    if (value.byteLength > this.maxBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.byteLength;
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.bytes += value.byteLength;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.byteLength;
    }
  }
}

export class PhraseCachingTts implements TtsProvider {
  readonly name: string;
  private readonly lru: PhraseStore;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly inner: TtsProvider,
    private readonly options: PhraseCacheOptions & { store?: PhraseStore },
  ) {
    this.name = inner.name;
    this.lru = options.store ?? new PhraseStore(options.maxBytes);
  }

  get model(): string | undefined {
    return this.inner.model;
  }

  get stats(): PhraseCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.lru.size, bytes: this.lru.bytes };
  }

  async open(options: TtsSessionOptions): Promise<TtsSession> {
    const session = await this.inner.open(options);
    const f = options.format;
    const prefix = `${this.inner.name}|${f.encoding}/${f.sampleRate}|${options.language}|${options.voice ?? ''}|${options.model ?? ''}|`;
    const bytesPerSample = f.encoding === 'mulaw' ? 1 : 2;
    const slice = Math.max(1, Math.round(((this.options.sliceMs ?? 100) * f.sampleRate * bytesPerSample) / 1000));
    // Closing a session ends its turns' audio early but normally (Cartesia, local): such audio is partial.
    const state = { closed: false };
    return {
      startTurn: (signal) => new CachingTurn(session, signal, state, {
        lookup: (text) => {
          if (text.length > (this.options.maxPhraseChars ?? 240)) return null;
          const hit = this.lru.get(prefix + text);
          if (hit) this.hits++;
          else this.misses++;
          return hit ?? undefined;
        },
        store: (text, audio) => this.lru.set(prefix + text, audio),
        slice,
      }),
      close: () => {
        state.closed = true;
        return session.close();
      },
    };
  }
}

interface TurnCache {
  /** null: not cacheable; undefined: a miss. */
  lookup(text: string): Buffer | null | undefined;
  store(text: string, audio: Buffer): void;
  slice: number;
}

class CachingTurn implements TtsTurn, SynthesisCount {
  readonly audio: AsyncIterable<Uint8Array>;
  /** Characters handed to the wrapped synthesizer (a cache hit hands it none), and where they are counted. */
  private synthesizedChars = 0;
  private counter: { chars: number } | null = null;
  private text = '';
  private ended = false;
  private cancelled = false;
  private inner: TtsTurn | null = null;
  private decided = false;
  private hit: Buffer | null = null;
  private cacheable = false;
  private failure: unknown = null;
  private resolveDecision!: () => void;
  private readonly decision = new Promise<void>((r) => (this.resolveDecision = r));

  constructor(
    private readonly session: TtsSession,
    private readonly signal: AbortSignal,
    private readonly sessionState: { closed: boolean },
    private readonly cache: TurnCache,
  ) {
    this.audio = this.stream();
  }

  countSynthesisInto(counter: { chars: number }): void {
    this.counter = counter;
    counter.chars += this.synthesizedChars;
  }

  private countSynthesis(chars: number): void {
    this.synthesizedChars += chars;
    if (this.counter) this.counter.chars += chars;
  }

  pushText(text: string): void {
    if (this.ended || this.cancelled || !text) return;
    if (this.inner) {
      this.countSynthesis(text.length);
      return this.inner.pushText(text);
    }
    this.text += text;
    // A phrase handed over whole is pushed and ended in the same tick; anything still open after it is a
    // streamed turn and must start synthesising now.
    if (!this.decided) queueMicrotask(() => this.decide());
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.inner) this.inner.end();
    else if (!this.decided) queueMicrotask(() => this.decide());
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    if (!this.decided) this.decide();
    await this.inner?.cancel().catch(() => {});
  }

  /** Runs from a microtask: whatever goes wrong must reach the audio iterator, never escape as uncaught. */
  private decide(): void {
    if (this.decided) return;
    this.decided = true;
    try {
      if (!this.cancelled && this.ended) {
        const found = this.cache.lookup(this.text);
        this.cacheable = found !== null;
        if (found) this.hit = found;
      }
      if (!this.hit && !this.cancelled) {
        this.inner = this.session.startTurn(this.signal);
        this.countSynthesis(this.text.length);
        if (this.text) this.inner.pushText(this.text);
        if (this.ended) this.inner.end();
      }
    } catch (err) {
      this.failure = err;
    } finally {
      this.resolveDecision();
    }
  }

  private async *stream(): AsyncGenerator<Uint8Array> {
    await this.decision;
    if (this.failure) throw this.failure;
    if (this.hit) {
      for (let i = 0; i < this.hit.byteLength; i += this.cache.slice) {
        if (this.cancelled || this.signal.aborted) return;
        yield this.hit.subarray(i, Math.min(i + this.cache.slice, this.hit.byteLength));
      }
      return;
    }
    if (!this.inner) return;
    const parts: Uint8Array[] = [];
    let bytes = 0;
    for await (const chunk of this.inner.audio) {
      if (this.cacheable) {
        parts.push(chunk);
        bytes += chunk.byteLength;
      }
      yield chunk;
    }
    // A normal end nobody caused — not this turn's cancel, not the call's abort, not the session closing — means
    // the phrase's whole audio. Copied into a buffer of its own (not a slice of Node's shared pool, which would
    // keep 8 KB alive per entry and escape the byte count).
    if (this.cacheable && bytes > 0 && !this.cancelled && !this.signal.aborted && !this.sessionState.closed) {
      const audio = Buffer.allocUnsafeSlow(bytes);
      let at = 0;
      for (const p of parts) {
        audio.set(p, at);
        at += p.byteLength;
      }
      this.cache.store(this.text, audio);
    }
  }
}
