/**
 * Offline speech-to-text: a VAD (Silero, energy fallback) segments the caller's audio; each segment is decoded by
 * pocketsphinx (CMU Sphinx en-us, Debian's pocketsphinx-en-us). Events: `speech_started` when the VAD fires,
 * then one `final` (endOfUtterance: true) per segment, or `utterance_end` when nothing was recognized.
 * No `interim`: pocketsphinx_continuous has no cheap partial results.
 *
 * The same VAD inference also serves the call loop: a second segmentation of its probabilities with quick
 * thresholds (`voice`: 64 ms onset, 200 ms end of speech) is reported as `voice` events (after one `ready`), so a
 * call on this recognizer runs one VAD, not two.
 *
 * Recognizer biasing: a session with `keyterms` (the bot's services, aliases, names), unless `args` bring their
 * own `-lm`, decodes with a small language model built for the bot (local-lm.ts): booking and everyday phone
 * English around those terms, with the generic model's 10 000 most frequent words mixed in, in place of the broad
 * generic model. It is built once per set of terms in a worker thread and cached on disk; open() waits for it at
 * most `languageModelWaitMs`, then uses the generic model for that call. Without keyterms: the generic model.
 *
 * Recognition conditioned on the question (`expected`, set by the booking flow: recognition-context.ts): at the
 * start of each utterance the session reads what the bot just asked for (a name, a spelling, a number, a time, a
 * yes or no) and decodes with the model for that answer (answer phrasings filled with common names, letters,
 * digits and times, with a share of the bot's corpus so an off-script answer still comes through). Those models
 * are queued for building at open() and never waited for: until one is built, the session's own model decodes.
 *
 * A name the model turned into everyday words ("my name is sam one", "came brown" after "May I have your name?")
 * gets a second decode of the same audio with a grammar of listed names around the words as heard, kept only when
 * it sounds like what was first heard (local-lm-name-slot.ts). Only with the bot's or an answer model (their small
 * dictionaries), and only for an utterance that still fits the audio ring.
 *
 * A segment whose decode fails (pocketsphinx crashed or exited with an error, or timed out) is decoded once more
 * from the same audio while the ring still holds it (not after a timeout that outlasted the ring: the caller would
 * wait twice). One that cannot be decoded even so is not dropped in silence: an `unheard` event tells the call, which
 * asks the caller to say it again, and the session goes on. A recognizer that cannot run at all (its binary
 * missing), or fails MAX_UNHEARD_IN_A_ROW segments in a row, fails the session (`error`) as before.
 *
 * English only. open() with language 'ru' throws PARLEY_ERR_UNAVAILABLE (there is no local Russian model), so the
 * caller can pick another recognizer or tell the company. The acoustic model is 16 kHz: Twilio's 8 kHz μ-law is
 * upsampled and accepted but recognized poorly; it serves web calls and tests.
 */
import { WIDEBAND_FORMAT } from '../../audio/format.js';
import { AudioConverter } from '../../audio/convert.js';
import { ParleyError } from '../../errors.js';
import type { ExpectedInput, SttEvent, SttProvider, SttSession, SttSessionOptions } from '../types.js';
import { createVad, type CreateVadOptions } from '../vad/create.js';
import type { VadEvent, VadLogger, VoiceActivityDetector } from '../vad/types.js';
import { AsyncQueue } from '../../util/async-queue.js';
import { PocketsphinxProcess, RecognizerError, type Recognition, type RecognizerOptions } from './local-recognizer.js';
import { sharedLanguageModels, type LanguageModelCache } from './local-lm.js';
import { findNameSlot, nameSecondLook } from './local-lm-name-slot.js';

export interface LocalSttOptions {
  /** Default 'pocketsphinx_continuous'. */
  binary?: string;
  /** Extra pocketsphinx arguments, e.g. ['-hmm', dir, '-lm', file, '-dict', file]. */
  args?: string[];
  /** VAD engine and thresholds. Default: Silero, 600 ms of silence ends an utterance. */
  vad?: Omit<CreateVadOptions, 'onEvent' | 'logger'>;
  logger?: VadLogger;
  /** Report the caller's voice activity (`voice` events) with these thresholds; false = none. Default 64 / 200 ms. */
  voice?: { onsetMs: number; endSilenceMs: number } | false;
  /** Audio kept from before the VAD fired. Default 300 ms. */
  preRollMs?: number;
  /** Longer speech is cut into utterances of this length. Default 20 s. */
  maxUtteranceMs?: number;
  /** Decode time limit per utterance. Default 30 s. */
  decodeTimeoutMs?: number;
  /**
   * Start the next recognizer before speech (its ~0.4 s model load then never delays a final) at the price of an
   * idle ~100 MB process per session. When false, it starts when speech starts. Default true.
   */
  prewarm?: boolean;
  /** Per-bot language models (default: one cache per process); false = the installed generic model. */
  languageModels?: LanguageModelCache | false;
  /** How long open() waits for a bot's model that is still being built. Default 3 s. */
  languageModelWaitMs?: number;
}

/** The model arguments for the answer to one kind of question, or null when there is none (yet). */
type AnswerModels = (kind: ExpectedInput) => string[] | null;

const RATE = 16;
/** Audio kept for pre-roll and for VAD decisions that arrive after later frames (Silero runs asynchronously). */
const RING_MS = 10_000;
/** Segments in a row that could not be decoded (each tried twice) before the recognizer is taken for broken. */
const MAX_UNHEARD_IN_A_ROW = 2;

/** One ended segment: its absolute sample positions, the model it was decoded with, and its audio when copied out. */
interface Segment {
  from: number;
  to: number;
  args: string[];
  audio: Int16Array | null;
}

export class LocalSttProvider implements SttProvider {
  readonly name = 'local';
  private warnedNarrowband = false;

  constructor(private readonly options: LocalSttOptions = {}) {}

  async open(session: SttSessionOptions): Promise<SttSession> {
    if (session.language !== 'en') {
      throw new ParleyError(
        'PARLEY_ERR_UNAVAILABLE',
        `local speech recognition supports English only (pocketsphinx en-us); no local model for '${session.language}'`,
      );
    }
    if (session.format.sampleRate !== 16000 && !this.warnedNarrowband) {
      this.warnedNarrowband = true;
      this.options.logger?.warn('local STT on 8 kHz telephone audio is unreliable; its model is 16 kHz');
    }
    const stt = new LocalSttSession(session, this.options, await this.modelArgs(session.keyterms ?? []), this.answerModels(session));
    await stt.start();
    return stt;
  }

  /**
   * For a session told what the bot asks (`expected`): the `-lm`/`-dict` of the model for that kind of answer when
   * it is built, else null (the session's own model). Queues the builds now, off the call path.
   */
  private answerModels(session: SttSessionOptions): AnswerModels | null {
    const cache = this.options.languageModels ?? sharedLanguageModels;
    if (!session.expected || cache === false || (this.options.args ?? []).includes('-lm')) return null;
    const terms = session.keyterms ?? [];
    cache.prepareAnswers(terms);
    return (kind) => cache.answerArgs(terms, kind);
  }

  /** `-lm`/`-dict` of the bot's language model, or [] (the generic model) when it is off, failed or not ready in time. */
  private async modelArgs(keyterms: string[]): Promise<string[]> {
    const cache = this.options.languageModels ?? sharedLanguageModels;
    // A bot with no terms of its own (no services, a question-answering line) keeps the broad generic model.
    if (cache === false || keyterms.length === 0 || (this.options.args ?? []).includes('-lm')) return [];
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.options.languageModelWaitMs ?? 3000)));
    try {
      const args = await Promise.race([cache.argsFor(keyterms), late]);
      if (args === 'late') {
        this.options.logger?.warn('the bot\'s language model is still being built; this call uses the generic one');
        return [];
      }
      return args;
    } catch (err) {
      this.options.logger?.warn(`building the bot's language model failed; using the generic one: ${String(err)}`);
      return [];
    } finally {
      clearTimeout(timer);
    }
  }
}

class LocalSttSession implements SttSession {
  readonly events: AsyncQueue<SttEvent> = new AsyncQueue<SttEvent>();
  private readonly converter: AudioConverter;
  private readonly recognizerOptions: RecognizerOptions;
  /** The model the warm recognizer was started with: that of the answer expected then, or the session's own. */
  private warmFor: ExpectedInput | null = null;
  private readonly preRollSamples: number;
  private readonly maxUtteranceSamples: number;
  private readonly prewarm: boolean;
  private vad: VoiceActivityDetector | null = null;
  private readonly ring = new Int16Array(RING_MS * RATE);
  /** Samples received since open (absolute position of the ring's write head). */
  private total = 0;
  private warm: PocketsphinxProcess | null = null;
  private active: PocketsphinxProcess | null = null;
  /** The model arguments of the active recognizer and the answer it expected (for a second look at a name). */
  private activeArgs: string[] = [];
  private activeKind: ExpectedInput | null = null;
  private captureStart = 0;
  private forcedEnd = false;
  private decodes: Promise<void> = Promise.resolve();
  /** The second decode of a segment whose first failed (killed on close). */
  private retry: PocketsphinxProcess | null = null;
  /** Segments in a row that could not be decoded. */
  private unheardInARow = 0;
  private closed = false;

  constructor(
    private readonly session: SttSessionOptions,
    private readonly options: LocalSttOptions,
    modelArgs: string[],
    private readonly answerModels: AnswerModels | null = null,
  ) {
    this.converter = new AudioConverter(session.format, WIDEBAND_FORMAT);
    this.recognizerOptions = {
      binary: options.binary ?? 'pocketsphinx_continuous',
      args: [...modelArgs, ...(options.args ?? [])],
      timeoutMs: options.decodeTimeoutMs ?? 30_000,
    };
    this.preRollSamples = (options.preRollMs ?? 300) * RATE;
    this.maxUtteranceSamples = (options.maxUtteranceMs ?? 20_000) * RATE;
    this.prewarm = options.prewarm ?? true;
  }

  async start(): Promise<void> {
    this.vad = await createVad({
      minSilenceMs: 600,
      ...this.options.vad,
      logger: this.options.logger,
      onEvent: (event) => this.onVad(event),
    });
    const voice = this.options.voice ?? { onsetMs: 64, endSilenceMs: 200 };
    if (voice) {
      this.events.push({ type: 'voice', activity: 'ready', agoMs: 0 });
      this.vad.addSegmentation({
        ...(this.options.vad?.positiveThreshold !== undefined ? { positiveThreshold: this.options.vad.positiveThreshold } : {}),
        ...(this.options.vad?.negativeThreshold !== undefined ? { negativeThreshold: this.options.vad.negativeThreshold } : {}),
        minSpeechMs: voice.onsetMs,
        minSilenceMs: voice.endSilenceMs,
        onEvent: (e) => {
          if (!this.closed) this.events.push({ type: 'voice', activity: e.type === 'speech_start' ? 'onset' : 'end', agoMs: Math.max(0, this.total / RATE - e.atMs) });
        },
      });
    }
    if (this.prewarm) this.warmUp();
    if (this.session.signal.aborted) await this.close();
    else this.session.signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  /** False once the session is closed (also by its own failure, before the call has seen it): not taken. */
  pushAudio(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const samples = this.converter.toSamples(frame);
    this.remember(samples);
    this.active?.write(samples);
    this.vad!.push(samples);
    if (this.active && !this.forcedEnd && this.total - this.captureStart > this.maxUtteranceSamples) {
      this.forcedEnd = true;
      this.finalize();
    }
    return true;
  }

  finalize(): boolean {
    if (this.closed || !this.vad) return false;
    // Closes the VAD's open segment, which arrives here as a speech_end.
    void this.vad.flush();
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.warm?.kill();
    this.active?.kill();
    this.retry?.kill();
    this.warm = this.active = this.retry = null;
    this.events.close();
    await this.vad?.close();
  }

  private onVad(event: VadEvent): void {
    if (this.closed) return;
    if (event.type === 'speech_start') {
      this.events.push({ type: 'speech_started', atMs: event.atMs, segmented: true });
      this.beginCapture(event.atMs * RATE);
    } else {
      this.endCapture();
    }
  }

  /**
   * The model for the next utterance: the one for the answer the bot expects (set by the booking flow when it
   * asks), when that model is built; otherwise the session's own.
   */
  private expectedNow(): ExpectedInput | null {
    const kind = this.answerModels ? this.session.expected?.current() ?? null : null;
    return kind && this.answerModels!(kind) ? kind : null;
  }

  /** The recognizer arguments for the model of an expected answer (or the session's own). */
  private argsFor(kind: ExpectedInput | null): string[] {
    const answer = kind ? this.answerModels?.(kind) : null;
    // The answer model replaces the session's -lm/-dict; the caller's other arguments (-hmm, …) stay.
    return answer ? [...answer, ...(this.options.args ?? [])] : this.recognizerOptions.args;
  }

  private recognizer(kind: ExpectedInput | null): PocketsphinxProcess {
    return new PocketsphinxProcess({ ...this.recognizerOptions, args: this.argsFor(kind) });
  }

  private warmUp(): void {
    this.warmFor = this.expectedNow();
    this.warm = this.recognizer(this.warmFor);
  }

  private beginCapture(startSample: number): void {
    const kind = this.expectedNow();
    let recognizer = this.warm;
    if (recognizer && this.warmFor !== kind) {
      // The bot has asked something since the recognizer was started: start one with the answer's model (its
      // model loads while the caller speaks; the audio waits in the pipe).
      recognizer.kill();
      recognizer = null;
    }
    recognizer ??= this.recognizer(kind);
    this.activeArgs = this.argsFor(kind);
    this.activeKind = kind;
    this.warm = null;
    const from = Math.max(0, startSample - this.preRollSamples, this.total - this.ring.length);
    this.captureStart = from;
    this.forcedEnd = false;
    recognizer.write(this.recall(from, this.total));
    this.active = recognizer;
  }

  private endCapture(): void {
    const recognizer = this.active;
    if (!recognizer) return;
    this.active = null;
    const args = this.activeArgs;
    const askedName = this.activeKind === 'name';
    // The utterance's audio, for a second look at a name (only a model of ours has the small dictionary it needs).
    const ownModel = args.includes('-dict') && !(this.options.args ?? []).some((a) => a === '-lm' || a === '-dict');
    const segment: Segment = { from: this.captureStart, to: this.total, args, audio: null };
    if (ownModel && this.total - this.captureStart <= this.ring.length) segment.audio = this.recall(segment.from, segment.to);
    const audio = segment.audio;
    if (this.prewarm) this.warmUp();
    const recognition = recognizer.finish();
    recognition.catch(() => undefined);
    // Finals leave in utterance order even when a later decode finishes first.
    this.decodes = this.decodes.then(async () => {
      try {
        const first = await this.decoded(recognition, segment);
        const slot = audio && first.text ? findNameSlot(first.text, askedName) : null;
        const text = slot && audio && !this.closed
          ? await nameSecondLook(first.text, slot, audio, { ...this.recognizerOptions, args }, this.options.args ?? [])
          : first.text;
        const { confidence } = first;
        if (this.closed) return;
        this.unheardInARow = 0;
        if (text) this.events.push({ type: 'final', text, endOfUtterance: true, ...(confidence !== null ? { confidence } : {}) });
        else this.events.push({ type: 'utterance_end' });
      } catch (error) {
        if (this.closed) return;
        await this.undecodable(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /**
   * The segment's recognition; one that failed is decoded once more from the segment's audio, while the ring still
   * holds it (after a long timeout it no longer does) — unless no decode can succeed (the binary is missing).
   */
  private async decoded(recognition: Promise<Recognition>, segment: Segment): Promise<Recognition> {
    try {
      return await recognition;
    } catch (error) {
      const audio = segment.audio ?? (this.total - segment.from <= this.ring.length ? this.recall(segment.from, segment.to) : null);
      if (this.closed || !audio || (error instanceof RecognizerError && error.missing)) throw error;
      this.options.logger?.warn(`local STT: decoding a segment failed (${(error as Error).message}); decoding it once more`);
      const again = new PocketsphinxProcess({ ...this.recognizerOptions, args: segment.args });
      this.retry = again;
      again.write(audio);
      try {
        return await again.finish();
      } finally {
        if (this.retry === again) this.retry = null;
      }
    }
  }

  /**
   * A segment that could not be decoded, even a second time: the call is told (`unheard`: it asks the caller to
   * say it again) and the session goes on. A recognizer that cannot run (its binary missing), or that fails
   * MAX_UNHEARD_IN_A_ROW segments in a row, fails the session as before: the call reopens it or gives up.
   */
  private async undecodable(error: Error): Promise<void> {
    const missing = error instanceof RecognizerError && error.missing;
    if (!missing && ++this.unheardInARow < MAX_UNHEARD_IN_A_ROW) {
      this.events.push({ type: 'unheard', error });
      return;
    }
    this.events.push({ type: 'error', error, recoverable: error instanceof RecognizerError && error.recoverable });
    await this.close();
  }

  private remember(samples: Int16Array): void {
    const ring = this.ring;
    const size = ring.length;
    let pos = this.total % size;
    for (let i = 0; i < samples.length; i++) {
      ring[pos] = samples[i]!;
      if (++pos === size) pos = 0;
    }
    this.total += samples.length;
  }

  /** Copies ring samples at absolute positions [from, to) (both within the last RING_MS). */
  private recall(from: number, to: number): Int16Array {
    const out = new Int16Array(to - from);
    const size = this.ring.length;
    for (let i = 0; i < out.length; i++) out[i] = this.ring[(from + i) % size]!;
    return out;
  }
}
