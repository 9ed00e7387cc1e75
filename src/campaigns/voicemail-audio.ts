/**
 * A campaign's voicemail message spoken by the bot's own voice. When detection says the greeting
 * ended, the answer webhook renders the filled message with the bot's TTS (the registry's choice: Cartesia or
 * local) into a μ-law 8 kHz WAV — what Twilio plays best — and answers `<Play>{PUBLIC_URL}/twilio/voicemail/
 * {attemptId}.wav?token=…</Play><Hangup/>`. The token is a short-lived signed call token (audience 'voicemail')
 * for the attempt's call, so the public route needs no API key and serves one attempt's audio to its holder only.
 *
 * Rendering happens at answer time, before the TwiML is sent: a TTS failure is known then, and the answer falls
 * back to <Say> so the message is still left. The bytes are cached in memory (bounded by entries, bytes and age)
 * because Twilio may fetch the URL twice; a fetch that misses the cache (another process of the cluster, an
 * evicted entry) renders the attempt again from the database, once (concurrent fetches share one rendering).
 */
import { speakableText } from '../safety/safe-speech.js';
import type { FastifyInstance } from 'fastify';
import { TWILIO_FORMAT } from '../audio/format.js';
import { MULAW_SILENCE } from '../audio/mulaw.js';
import { writeWav } from '../audio/wav.js';
import { connectionAuthenticated } from '../connection-guard.js';
import { getBotById, type BotRow } from '../db/bots.js';
import type { RootSql } from '../db/sql.js';
import { CallUsageMeter, CountingTts } from '../usage/counting.js';
import { writeCallUsage } from '../usage/repo.js';
import type { Language, TtsProvider } from '../providers/types.js';
import { signCallToken, verifyCallToken } from '../telephony/call-token.js';
import { publicUrl } from '../telephony/twilio/signature.js';
import { contactValues, fillVariables } from './answer.js';

/** The bot's TTS as the provider registry picks it (ProviderRegistry.forBot). */
export type TtsForBot = (bot: BotRow) => { tts: TtsProvider; voice?: string | undefined; ttsModel?: string | undefined };

export interface VoicemailAudioOptions {
  sql: RootSql;
  ttsFor: TtsForBot;
  callTokenSecret: string;
  publicOrigin: string;
  /** How long the <Play> URL's token is valid. Default 10 minutes. */
  tokenTtlMs?: number;
  /** How long rendered audio stays cached. Default 10 minutes. */
  cacheTtlMs?: number;
  /** Cached attempts at most. Default 64. */
  cacheEntries?: number;
  /** Cached bytes at most. Default 32 MiB. */
  cacheBytes?: number;
  /** A rendering that takes longer fails (and the answer falls back to <Say>). Default 8 s (Twilio waits 15 s). */
  renderTimeoutMs?: number;
  /** Audio beyond this many bytes fails the rendering. Default 4 MiB (over 8 minutes of μ-law). */
  maxAudioBytes?: number;
  now?: () => number;
}

export interface VoicemailRequest {
  attemptId: string;
  callId: string;
  bot: BotRow;
  text: string;
  language: Language;
}

interface Entry {
  callId: string;
  wav: Uint8Array;
  expiresAt: number;
}

export const VOICEMAIL_PATH = '/twilio/voicemail';
/** A quarter second of silence before the words, so the first syllable is not lost to the beep's end. */
const LEAD_IN_MS = 250;

/** Splits a message into sentences: the local engines synthesize phrase by phrase, Cartesia streams either way. */
function sentences(text: string): string[] {
  return text.split(/(?<=[.!?…])\s+/).map((s) => s.trim()).filter(Boolean);
}

/**
 * Renders `text` with `tts` into a μ-law 8 kHz WAV. Throws when the TTS fails, says nothing or takes longer than
 * `limits.timeoutMs` in all — opening included, and whether or not the provider honours the abort: the Twilio
 * request that waits for this must get its answer (the <Say> fallback) in time. Cancelling and closing a TTS that
 * went quiet run in the background, as they may hang too.
 */
export async function renderSpeechWav(
  tts: TtsProvider,
  request: { text: string; language: Language; voice?: string | undefined; model?: string | undefined },
  limits: { timeoutMs: number; maxBytes: number },
): Promise<Uint8Array> {
  const controller = new AbortController();
  const overdue = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
  });
  overdue.catch(() => {}); // raced below; unobserved when the rendering ends in time
  const timer = setTimeout(() => controller.abort(new Error(`voicemail rendering took over ${limits.timeoutMs} ms`)), limits.timeoutMs);
  const opening = tts.open({
    format: TWILIO_FORMAT, language: request.language,
    ...(request.voice ? { voice: request.voice } : {}), ...(request.model ? { model: request.model } : {}),
  });
  const session = await Promise.race([opening, overdue]).catch((err: unknown) => {
    clearTimeout(timer);
    void opening.then((late) => late.close()).catch(() => {});
    throw err;
  });
  const turn = session.startTurn(controller.signal);
  const chunks: Uint8Array[] = [new Uint8Array((TWILIO_FORMAT.sampleRate * LEAD_IN_MS) / 1000).fill(MULAW_SILENCE)];
  let bytes = 0;
  try {
    for (const s of sentences(speakableText(request.text))) turn.pushText(`${s} `);
    turn.end();
    const audio = turn.audio[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([audio.next(), overdue]);
      if (next.done) break;
      bytes += next.value.length;
      if (bytes > limits.maxBytes) throw new Error(`voicemail audio over ${limits.maxBytes} bytes`);
      chunks.push(next.value.slice());
    }
    // A provider that ends its stream early when aborted: the deadline passed all the same.
    if (controller.signal.aborted) throw controller.signal.reason instanceof Error ? controller.signal.reason : new Error('voicemail rendering aborted');
    if (bytes === 0) throw new Error('the TTS produced no audio');
  } catch (err) {
    controller.abort(err);
    void turn.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    void session.close().catch(() => {});
  }
  const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return writeWav(data, { encoding: 'mulaw', sampleRate: TWILIO_FORMAT.sampleRate });
}

export class VoicemailAudio {
  private readonly cache = new Map<string, Entry>();
  private cachedBytes = 0;
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly now: () => number;

  constructor(private readonly o: VoicemailAudioOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Renders (or reuses) the attempt's audio, and returns the URL Twilio is to <Play>. Throws when the TTS fails. */
  async prepare(request: VoicemailRequest): Promise<string> {
    await this.render(request);
    const token = signCallToken(this.o.callTokenSecret, { callId: request.callId, aud: 'voicemail', exp: this.now() + (this.o.tokenTtlMs ?? 600_000) });
    return `${publicUrl(this.o.publicOrigin, `${VOICEMAIL_PATH}/${request.attemptId}.wav`)}?token=${token}`;
  }

  /** The attempt's WAV for the holder of a valid token, rendering it again on a cache miss; null = refuse (403). */
  async audioFor(attemptId: string, token: string): Promise<Uint8Array | null> {
    const claims = verifyCallToken(this.o.callTokenSecret, token, 'voicemail', this.now());
    if (!claims) return null;
    const cached = this.cached(attemptId);
    if (cached) return cached.callId === claims.callId ? cached.wav : null;
    const request = await this.load(attemptId);
    if (!request || request.callId !== claims.callId) return null;
    return (await this.render(request)).wav;
  }

  /** Drops the cached audio (tests: a fetch that lands on another process). */
  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  get stats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cachedBytes };
  }

  private cached(attemptId: string): Entry | undefined {
    const entry = this.cache.get(attemptId);
    if (entry && entry.expiresAt <= this.now()) {
      this.cache.delete(attemptId);
      this.cachedBytes -= entry.wav.length;
      return undefined;
    }
    return entry;
  }

  private render(request: VoicemailRequest): Promise<Entry> {
    const cached = this.cached(request.attemptId);
    if (cached) return Promise.resolve(cached);
    let pending = this.inFlight.get(request.attemptId);
    if (!pending) {
      const { tts, voice, ttsModel } = this.o.ttsFor(request.bot);
      // What the synthesizer is sent is the call's usage, counted as on a live call (a rendering after the cache let
      // the message go is sent, and billed, again).
      const meter = new CallUsageMeter();
      pending = renderSpeechWav(new CountingTts(tts, meter), { text: request.text, language: request.language, voice, model: ttsModel }, {
        timeoutMs: this.o.renderTimeoutMs ?? 8_000, maxBytes: this.o.maxAudioBytes ?? 4 * 1024 * 1024,
      }).then(async (wav) => {
        await writeCallUsage(this.o.sql, { callId: request.callId, companyId: request.bot.company_id }, meter.items());
        return this.store(request.attemptId, { callId: request.callId, wav, expiresAt: this.now() + (this.o.cacheTtlMs ?? 600_000) });
      })
        .finally(() => this.inFlight.delete(request.attemptId));
      this.inFlight.set(request.attemptId, pending);
    }
    return pending;
  }

  private store(attemptId: string, entry: Entry): Entry {
    const maxEntries = this.o.cacheEntries ?? 64;
    const maxBytes = this.o.cacheBytes ?? 32 * 1024 * 1024;
    if (entry.wav.length > maxBytes) return entry; // served once, never kept
    const old = this.cache.get(attemptId);
    if (old) {
      this.cache.delete(attemptId);
      this.cachedBytes -= old.wav.length;
    }
    // Oldest first (Map keeps insertion order).
    for (const [key, e] of this.cache) {
      if (this.cache.size < maxEntries && this.cachedBytes + entry.wav.length <= maxBytes) break;
      this.cache.delete(key);
      this.cachedBytes -= e.wav.length;
    }
    this.cache.set(attemptId, entry);
    this.cachedBytes += entry.wav.length;
    return entry;
  }

  /** What a leave_message attempt says, from the database (the cache-miss path). */
  private async load(attemptId: string): Promise<VoicemailRequest | null> {
    const [row] = await this.o.sql<{
      call_id: string | null; bot_id: string; voicemail_message: string | null; language: Language;
      name: string | null; variables: Record<string, string>;
    }[]>`
      select a.call_id, g.bot_id, g.voicemail_message, b.language, k.name, k.variables
      from campaign_attempts a
        join campaigns g on g.id = a.campaign_id
        join campaign_contacts k on k.id = a.contact_id
        join bots b on b.id = g.bot_id
      where a.id = ${attemptId} and a.voicemail = 'left'`;
    if (!row?.call_id || !row.voicemail_message) return null;
    const bot = await getBotById(this.o.sql, row.bot_id);
    if (!bot) return null;
    return { attemptId, callId: row.call_id, bot, language: row.language, text: fillVariables(row.voicemail_message, contactValues(row)) };
  }
}

const FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.wav$/i;

/**
 * GET /twilio/voicemail/:attemptId.wav?token=… — registered inside the Twilio routes' plugin, so it shares their
 * per-IP rate limit. Public: the token is the credential (403 when it is missing, bad, expired or another call's).
 */
export function registerVoicemailRoute(app: FastifyInstance, audio: VoicemailAudio): void {
  app.get(`${VOICEMAIL_PATH}/:file`, {
    schema: {
      hide: true,
      params: { type: 'object', properties: { file: { type: 'string', maxLength: 64 } }, required: ['file'] },
      querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 2048 } } },
    } as object,
  }, async (request, reply) => {
    const match = FILE.exec((request.params as { file: string }).file);
    if (!match) return reply.status(404).type('text/plain').send('Not found');
    const token = (request.query as { token?: string }).token ?? '';
    let wav: Uint8Array | null;
    try {
      wav = token ? await audio.audioFor(match[1]!.toLowerCase(), token) : null;
    } catch (err) {
      request.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'rendering a voicemail again failed');
      return reply.status(503).type('text/plain').send('Voicemail audio unavailable');
    }
    if (!wav) return reply.status(403).type('text/plain').send('Invalid or expired voicemail token');
    // A valid token is Twilio's fetch: its connection no longer counts as a stranger's (connection-guard.ts).
    connectionAuthenticated(request.raw.socket);
    return reply.type('audio/wav').header('cache-control', 'private, max-age=300').send(Buffer.from(wav.buffer, wav.byteOffset, wav.byteLength));
  });
}
