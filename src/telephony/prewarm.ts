/**
 * Opens a call's recognizer and TTS sessions when Twilio's voice webhook arrives, instead of when the media
 * stream starts a few hundred milliseconds later: the TLS and WebSocket handshakes to Deepgram and Cartesia then
 * overlap Twilio's own stream set-up, and the greeting and the caller's first words no longer wait for them.
 *
 * The call adopts the sessions through `adopt()`: each provider's first `open()` for that call resolves to the
 * session opened ahead (when it was opened with the same options), later opens (reconnects) go to the provider.
 * Sessions nobody adopts — the stream never came, or reached another instance — are closed after `ttlMs`.
 */
import { providerSessionOptions, sessionInputsFor } from '../call/provider-sessions.js';
import type { BotRow } from '../db/bots.js';
import type { Logger } from '../log.js';
import type { SttProvider, SttSession, SttSessionOptions, TtsProvider, TtsSession, TtsSessionOptions } from '../providers/types.js';
import type { ProviderSet } from '../providers/types.js';
import type { AudioFormat } from '../audio/format.js';

interface Warm<S, O> {
  options: O;
  session: Promise<S>;
}

interface Pending {
  stt: Warm<SttSession, Omit<SttSessionOptions, 'signal'>> & { abort: AbortController };
  tts: Warm<TtsSession, TtsSessionOptions>;
  timer: NodeJS.Timeout;
}

export interface PrewarmerDeps {
  providersFor(bot: BotRow): ProviderSet;
  log: Logger;
  /** How long opened sessions wait for their call's media stream. Default 15 s. */
  ttlMs?: number;
}

const sameStt = (a: Omit<SttSessionOptions, 'signal'>, b: SttSessionOptions): boolean =>
  sameFormat(a.format, b.format) && a.language === b.language && a.model === b.model && (a.keyterms ?? []).join('\n') === (b.keyterms ?? []).join('\n');
const sameTts = (a: TtsSessionOptions, b: TtsSessionOptions): boolean =>
  sameFormat(a.format, b.format) && a.language === b.language && a.voice === b.voice && a.model === b.model;
const sameFormat = (a: AudioFormat, b: AudioFormat): boolean => a.encoding === b.encoding && a.sampleRate === b.sampleRate;

export class ProviderPrewarmer {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly deps: PrewarmerDeps) {}

  get size(): number {
    return this.pending.size;
  }

  /** Starts opening the sessions a call on `format` will need. Never throws; failures surface at adoption. */
  warm(callId: string, bot: BotRow, format: { input: AudioFormat; output: AudioFormat }): void {
    if (this.pending.has(callId)) return;
    const providers = this.deps.providersFor(bot);
    const abort = new AbortController();
    const { stt: sttOptions, tts: ttsOptions } = providerSessionOptions(sessionInputsFor(bot, providers), format);
    const entry: Pending = {
      stt: { options: sttOptions, session: providers.stt.open({ ...sttOptions, signal: abort.signal }), abort },
      tts: { options: ttsOptions, session: providers.tts.open(ttsOptions) },
      timer: setTimeout(() => this.discard(callId, 'no media stream'), this.deps.ttlMs ?? 15_000),
    };
    entry.timer.unref();
    // A failed early open is retried by the call itself; keep it from being an unhandled rejection meanwhile.
    entry.stt.session.catch(() => {});
    entry.tts.session.catch(() => {});
    this.pending.set(callId, entry);
  }

  /** The providers for this call, handing over what was opened ahead for it (once). */
  adopt(callId: string, providers: ProviderSet): ProviderSet {
    const entry = this.pending.get(callId);
    if (!entry) return providers;
    this.pending.delete(callId);
    clearTimeout(entry.timer);
    return { ...providers, stt: this.adoptStt(entry, providers.stt), tts: this.adoptTts(entry, providers.tts) };
  }

  private adoptStt(entry: Pending, provider: SttProvider): SttProvider {
    let warm: Pending['stt'] | null = entry.stt;
    return {
      name: provider.name,
      ...(provider.model !== undefined ? { model: provider.model } : {}),
      open: (options) => {
        const w = warm;
        warm = null;
        if (!w || !sameStt(w.options, options)) {
          if (w) void closeWhenOpen(w.session, () => w.abort.abort());
          return provider.open(options);
        }
        // The session was opened under the prewarmer's signal; the call's own signal now ends it too.
        if (options.signal.aborted) w.abort.abort();
        else options.signal.addEventListener('abort', () => w.abort.abort(), { once: true });
        return w.session.catch(() => provider.open(options));
      },
    };
  }

  private adoptTts(entry: Pending, provider: TtsProvider): TtsProvider {
    let warm: Pending['tts'] | null = entry.tts;
    return {
      name: provider.name,
      ...(provider.model !== undefined ? { model: provider.model } : {}),
      open: (options) => {
        const w = warm;
        warm = null;
        if (!w || !sameTts(w.options, options)) {
          if (w) void closeWhenOpen(w.session);
          return provider.open(options);
        }
        return w.session.catch(() => provider.open(options));
      },
    };
  }

  private discard(callId: string, why: string): void {
    const entry = this.pending.get(callId);
    if (!entry) return;
    this.pending.delete(callId);
    clearTimeout(entry.timer);
    this.deps.log.debug({ callId, why }, 'closing provider sessions opened ahead');
    void closeWhenOpen(entry.stt.session, () => entry.stt.abort.abort());
    void closeWhenOpen(entry.tts.session);
  }

  /** Shutdown: closes every session still waiting for its call. */
  async close(): Promise<void> {
    const entries = [...this.pending.values()];
    this.pending.clear();
    await Promise.allSettled(
      entries.flatMap((e) => {
        clearTimeout(e.timer);
        return [closeWhenOpen(e.stt.session, () => e.stt.abort.abort()), closeWhenOpen(e.tts.session)];
      }),
    );
  }
}

async function closeWhenOpen(session: Promise<SttSession | TtsSession>, before?: () => void): Promise<void> {
  before?.();
  try {
    await (await session).close();
  } catch {
    // never opened, or already gone
  }
}
