/**
 * Speaks one bot turn, paced to what the caller has heard. Phrases go to TTS one by one; their audio is cut into
 * slices of ~100 ms, and each slice is sent followed by a mark. Only `maxLeadMs` of audio is ever ahead of the
 * last echoed mark, so:
 *  - pause() is exact: `clear` drops at most the lead, and the slices after the last heard mark are kept;
 *  - resume() sends again from the first slice the caller did not hear (nothing heard is repeated, nothing
 *    unheard is lost — the audio is already synthesised, so no TTS round trip either);
 *  - a stopped turn stops costing TTS: synthesis runs at most `lookaheadMs` ahead of what was sent;
 *  - a slow or dead socket holds at most the lead (plus `maxPendingBytes` of socket buffer).
 * A client that never echoes marks still plays: a slice is assumed played `markGraceMs` after its real-time
 * play-out. Once that has happened on a call where no mark ever came back (`MarkEchoes`, one per call), the client
 * is taken not to echo marks at all and slices count as played at their play-out itself: its audio then flows at
 * real time, after one wait of `markGraceMs` in the call's first turn (waiting the grace on every slice would
 * pace it at an eighth of real time). Its pauses cannot know what was heard.
 * A TTS that goes quiet fails the turn (TtsFailure), whatever the provider: a phrase with no audio `firstAudioMs`
 * after it was requested, or none for `audioIdleMs` after its last chunk (the provider not having ended it), is
 * cancelled. Only the wait on the provider counts — not the time synthesis is held back because enough is ready.
 * A phrase the voice refuses (an error no retry can mend, before any of its audio: a 4xx for its request), or ends
 * without any audio, is skipped — left unsaid, on the same session — and the turn goes on with the next one. Only failures that may be the
 * voice's, not the phrase's, fail the turn; the call gives up a phrase that failed it twice (giveUp). An account
 * refusal (401/402/403: key, credits, plan) is the voice's, never the phrase's: it fails the turn at once.
 */
import { bytesPerMs } from '../audio/format.js';
import { isAccountFailure, isRetryable } from '../errors.js';
import type { TtsSession, TtsTurn } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import { AsyncQueue } from '../util/async-queue.js';
import type { Clock } from './types.js';

/** A phrase's first audio takes this long at most (as a caller waits for the LLM's first token: FIRST_TOKEN_BUDGET_MS). */
export const TTS_FIRST_AUDIO_MS = 6000;
/** A phrase whose audio has started is stalled after this long without a chunk (as the LLM's STREAM_IDLE_MS). */
export const TTS_AUDIO_IDLE_MS = 6000;

export class TtsFailure extends Error {
  constructor(
    override readonly cause: unknown,
    /** The phrase being synthesised when the voice failed (null: none was). */
    readonly phrase: string | null = null,
  ) {
    super(`TTS failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TtsFailure';
  }
}

interface Phrase {
  index: number;
  text: string;
  /** Index of its last slice once all its audio has come from TTS; -1 before (or when it had none). */
  lastSlice: number;
  /** Set when the clock, not a mark, says it was played (clients that never echo marks). */
  assumedHeard: boolean;
  slices: number;
  /** Its synthesis is over (all its audio came, or it was skipped). */
  ended: boolean;
  /** Skipped: the voice refused it, or the call had given up on it. Never heard; not part of the rest. */
  unsaid: boolean;
}

interface Slice {
  bytes: Uint8Array;
  phrase: Phrase;
  /** Index of the slice within its phrase. */
  n: number;
  /** Cumulative audio ms of the turn at the end of this slice. */
  endMs: number;
}

/**
 * What a call's playbacks have learnt about its client: whether any mark ever came back, and whether the clock
 * had to stand in for one before any did (a client that does not echo marks). Shared by every turn of one call.
 */
export class MarkEchoes {
  seen = false;
  absent = false;
}

export interface PlaybackTiming {
  /** The first phrase was handed to TTS. */
  ttsStartedAt: number;
  /** Its first audio chunk came back. */
  ttsFirstAudioAt: number;
  /** The first audio was handed to the transport. */
  sentAt: number;
}

export interface PlaybackOptions {
  tts: TtsSession;
  transport: CallTransport;
  clock: Clock;
  signal: AbortSignal;
  /** Unique per playback, so late marks of an earlier turn are never confused with this one's. */
  markPrefix: string;
  /** Audio sent ahead of the last heard mark. Default 400 ms. */
  maxLeadMs?: number;
  /** Audio per slice (one mark each). Default 100 ms. */
  sliceMs?: number;
  /** Synthesised audio kept ahead of what was sent before TTS is paused. Default 2000 ms. */
  lookaheadMs?: number;
  /** Stop sending while the transport holds more than this many bytes unsent (default: 2 s of audio). */
  maxPendingBytes?: number;
  /** A slice whose mark never comes back is assumed played this long after its real-time play-out. Default 3000. */
  markGraceMs?: number;
  /** The call's knowledge of its client's marks (one per call); default: this playback's own. */
  markEchoes?: MarkEchoes;
  /** A phrase with no audio this long after it went to TTS fails the turn. Default TTS_FIRST_AUDIO_MS. */
  firstAudioMs?: number;
  /** A phrase with no new audio this long (and not ended by the provider) fails the turn. Default TTS_AUDIO_IDLE_MS. */
  audioIdleMs?: number;
  /** Called once, when the first audio is handed to the transport. */
  onFirstAudio?: (timing: PlaybackTiming) => void;
  /** The voice refused a phrase (an error not worth retrying, before its audio): it is skipped, the turn goes on. */
  onRefused?: (text: string, err: unknown) => void;
  /** A phrase played whole (its last slice heard, or played out by the clock for a client without marks). */
  onPhraseHeard?: (text: string) => void;
}

export type PlaybackResult = 'played' | 'interrupted';

export class Playback {
  private readonly phrases: Phrase[] = [];
  private readonly queue = new AsyncQueue<Phrase>();
  private readonly slices: Slice[] = [];
  /** Outstanding marks of the current epoch → slice index. A pause starts a new epoch. */
  private readonly outstanding = new Map<string, number>();
  private readonly bytesPerMs: number;
  private readonly sliceBytes: number;
  private readonly maxLeadMs: number;
  private readonly lookaheadMs: number;
  private readonly maxPendingBytes: number;
  private readonly graceMs: number;
  private readonly echoes: MarkEchoes;
  private readonly firstAudioMs: number;
  private readonly audioIdleMs: number;
  private current: TtsTurn | null = null;
  /** The phrase being synthesised (null between phrases). */
  private synthesizing: Phrase | null = null;
  /** Phrases before this index have been reported to onPhraseHeard (or skipped). */
  private reportedHeard = 0;
  private frozen = false;
  private paused = false;
  private epoch = 0;
  /** Next slice to send. */
  private sendPos = 0;
  /** Slices before this index were heard (echoed marks). */
  private heardPos = 0;
  /** Slices before this index are assumed played by the clock (clients that never echo marks). */
  private assumedPos = 0;
  /** Real-time play-out estimate of each sent slice (parallel to slices, from sendPos of the epoch). */
  private readonly playoutAt: number[] = [];
  private playhead = 0;
  private timing: PlaybackTiming | null = null;
  private ttsStartedAt = 0;
  private ttsFirstAudioAt = 0;
  private workerDone = false;
  private ttsFailed = false;
  private tick: unknown = null;
  /**
   * The TTS deadline: while the worker waits on the provider, `audioDue` is when the wait fails (0: not waiting).
   * One timer serves it; a later deadline only moves `audioDue` (the timer, when it fires early, sleeps again).
   */
  private audioDue = 0;
  private audioWait: 'first' | 'next' = 'first';
  private audioTimer: unknown = null;
  private audioTimerAt = 0;
  private wakeWorker: (() => void) | null = null;
  private settle!: (r: PlaybackResult) => void;
  private fail!: (e: Error) => void;
  /** Text the producer had not yet handed over when the turn was cut (for resuming after a false interruption). */
  private unspoken = '';
  readonly done: Promise<PlaybackResult>;

  constructor(private readonly o: PlaybackOptions) {
    this.bytesPerMs = bytesPerMs(o.transport.outputFormat);
    const sampleBytes = o.transport.outputFormat.encoding === 'pcm16' ? 2 : 1;
    this.sliceBytes = Math.max(sampleBytes, Math.round((this.bytesPerMs * (o.sliceMs ?? 100)) / sampleBytes) * sampleBytes);
    this.maxLeadMs = o.maxLeadMs ?? 400;
    this.lookaheadMs = o.lookaheadMs ?? 2000;
    this.maxPendingBytes = o.maxPendingBytes ?? this.bytesPerMs * 2000;
    this.graceMs = o.markGraceMs ?? 3000;
    this.echoes = o.markEchoes ?? new MarkEchoes();
    this.firstAudioMs = o.firstAudioMs ?? TTS_FIRST_AUDIO_MS;
    this.audioIdleMs = o.audioIdleMs ?? TTS_AUDIO_IDLE_MS;
    this.done = new Promise<PlaybackResult>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // Whoever awaits `done` handles rejections; this keeps an unobserved one from crashing the process.
    this.done.catch(() => {});
    void this.work();
  }

  say(text: string): void {
    const t = text.trim();
    // After a TTS failure the text is still noted (unheardText: the call says it once TTS is back).
    if (!t || (this.frozen && !this.ttsFailed)) return;
    const phrase: Phrase = { index: this.phrases.length, text: t, lastSlice: -1, assumedHeard: false, slices: 0, ended: false, unsaid: false };
    this.phrases.push(phrase);
    if (!this.frozen) this.queue.push(phrase);
  }

  /** No more phrases; `done` resolves once everything has been played (last mark echoed). */
  finish(): void {
    this.queue.close();
  }

  noteUnspoken(text: string | null): void {
    if (text) this.unspoken += (this.unspoken ? ' ' : '') + text.trim();
  }

  /** A mark came back from the transport. */
  onMark(name: string): boolean {
    if (this.frozen) return false;
    const index = this.outstanding.get(name);
    if (index === undefined) return false;
    this.outstanding.delete(name);
    this.echoes.seen = true;
    this.echoes.absent = false;
    // Marks come back in order; one that arrives means everything before it was played as well.
    if (index + 1 > this.heardPos) this.advanceHeard(index + 1);
    this.pump();
    return true;
  }

  /**
   * The caller started talking: silence the line now (`clear`) and stop sending. What was heard is frozen at the
   * last echoed mark; marks echoed because of the clear belong to the old epoch and are ignored.
   */
  pause(): boolean {
    if (this.frozen || this.paused) return false;
    this.paused = true;
    if (this.timing) this.o.transport.clear();
    this.epoch++;
    this.outstanding.clear();
    this.sendPos = this.heardPos;
    this.assumedPos = this.heardPos;
    this.playoutAt.length = 0;
    this.clearTick();
    return true;
  }

  /** Not an interruption after all: go on from the first slice the caller did not hear. */
  resume(): void {
    if (this.frozen || !this.paused) return;
    this.paused = false;
    this.pump();
  }

  /** The turn is over (interrupted, wrapped up, call ended): freeze what was heard and stop synthesis. */
  interrupt(): void {
    if (this.frozen) return;
    this.frozen = true;
    this.queue.abort();
    void this.current?.cancel();
    this.clearTick();
    this.clearAudioTimer();
    this.wake();
    this.settle('interrupted');
  }

  get isPaused(): boolean {
    return this.paused;
  }
  get isFrozen(): boolean {
    return this.frozen;
  }
  /** Whether any audio has been handed to the transport. */
  get started(): boolean {
    return this.timing !== null;
  }
  /** When the first audio was handed to the transport (null before). */
  get firstSentAt(): number | null {
    return this.timing ? this.timing.sentAt : null;
  }
  /** Ms of audio synthesised so far (sent or not). */
  get audioMs(): number {
    return this.endMs(this.slices.length);
  }
  /** Ms of audio handed to the transport and not yet heard (the lead). */
  get leadMs(): number {
    return this.endMs(this.sendPos) - this.endMs(Math.max(this.heardPos, this.assumedPos));
  }

  /** The turn's phrases, less those left unsaid (what saying it again from the start says). */
  get text(): string {
    return this.phrases.filter((p) => !p.unsaid).map((p) => p.text).join(' ');
  }
  /** The phrases skipped unsaid (the voice refused them, or the call had given up on them), in order. */
  get unsaid(): string[] {
    return this.phrases.filter((p) => p.unsaid).map((p) => p.text);
  }
  /** The phrases whose audio was all made (saying them again may re-send it: a phrase cache replays it). */
  get synthesised(): string[] {
    return this.phrases.filter((p) => p.lastSlice >= 0).map((p) => p.text);
  }
  /** How many phrases were handed over so far. */
  get phraseCount(): number {
    return this.phrases.length;
  }
  /** The whole phrases heard, of those from index `from` up to (not including) `to`. */
  heardText(from = 0, to = this.phrases.length): string {
    return this.phrases.slice(from, to).filter((p) => this.isHeard(p)).map((p) => p.text).join(' ');
  }
  /** Whether every phrase from index `from` up to (not including) `to` was heard whole. */
  heardWhole(from: number, to: number): boolean {
    for (let i = from; i < to; i++) if (!this.isHeard(this.phrases[i]!)) return false;
    return true;
  }

  /**
   * What the caller heard, for the transcript of a turn cut short: the whole phrases heard, then the start of the
   * phrase playing when it stopped, cut in proportion to its audio played ("I can offer tomorrow at 8 AM, tomo…"
   * is "I can offer tomorrow at 8 AM…"). An offer interrupted in its first sentence left no bot line at all.
   * `from`, `to`: only of those phrases (an agent turn's tool round, or its words after the last one).
   */
  heardTranscript(from = 0, to = this.phrases.length): string {
    const whole = this.heardText(from, to);
    const played = Math.max(this.heardPos, this.assumedPos);
    const last = played > 0 ? this.slices[played - 1] : undefined;
    const phrase = last?.phrase;
    if (!last || !phrase || this.isHeard(phrase) || phrase.index < from || phrase.index >= to) return whole;
    // Its audio so far, when TTS had not finished it: the share is then an upper bound.
    const share = (last.n + 1) / Math.max(phrase.slices, last.n + 1);
    const cut = phrase.text.lastIndexOf(' ', Math.round(phrase.text.length * share));
    if (cut <= 0) return whole;
    const part = `${phrase.text.slice(0, cut).replace(/[\s,;:.!?—-]+$/u, '')}…`;
    return whole ? `${whole} ${part}` : part;
  }
  /** The call gives up on phrase `text` of this stopped turn (it failed too often): left unsaid, not part of the rest. */
  giveUp(text: string): void {
    for (const p of this.phrases) if (p.text === text && !this.isHeard(p)) p.unsaid = true;
  }

  /**
   * What is left to say of a turn cut short: the phrases not heard whole, the one playing when it stopped from its
   * start (a voice cannot begin mid-phrase), and the text the producer had not handed over — not the phrases left
   * unsaid (the voice refused them). `from`, `to`: only of those phrases (a tool's say); the text not handed over
   * follows them all, so it goes with a range to the end.
   */
  unheardText(from = 0, to = this.phrases.length): string {
    const rest = this.phrases.slice(from, to).filter((p) => !this.isHeard(p) && !p.unsaid).map((p) => p.text);
    if (this.unspoken && to >= this.phrases.length) rest.push(this.unspoken);
    return rest.join(' ');
  }

  // ---------- sending (paced) ----------

  private pump(): void {
    if (this.frozen) return;
    if (!this.paused) {
      const { transport } = this.o;
      while (this.sendPos < this.slices.length && this.leadMs < this.maxLeadMs) {
        if (transport.pendingBytes > this.maxPendingBytes) {
          this.armTick(20);
          break;
        }
        const index = this.sendPos++;
        const slice = this.slices[index]!;
        const now = this.o.clock.now();
        transport.sendAudio(slice.bytes);
        if (!this.timing) {
          this.timing = { ttsStartedAt: this.ttsStartedAt, ttsFirstAudioAt: this.ttsFirstAudioAt, sentAt: now };
          this.o.onFirstAudio?.(this.timing);
        }
        const name = this.markName(slice);
        this.outstanding.set(name, index);
        transport.sendMark(name);
        this.playhead = Math.max(this.playhead, now) + slice.bytes.byteLength / this.bytesPerMs;
        this.playoutAt[index] = this.playhead;
      }
      if (this.tick === null && this.sendPos > Math.max(this.heardPos, this.assumedPos)) {
        const next = this.playoutAt[Math.max(this.heardPos, this.assumedPos)];
        if (next !== undefined) this.armTick(next + this.grace - this.o.clock.now());
      }
    }
    if (this.bufferedAheadMs() < this.lookaheadMs) this.wake();
    this.checkComplete();
  }

  /** Clock fallback and backpressure retry share one timer. */
  private armTick(ms: number): void {
    if (this.tick !== null) return;
    this.tick = this.o.clock.setTimeout(() => {
      this.tick = null;
      this.onTick();
    }, Math.max(0, ms));
  }

  private onTick(): void {
    if (this.frozen || this.paused) return;
    const now = this.o.clock.now();
    const from = Math.max(this.heardPos, this.assumedPos);
    const grace = this.grace;
    let pos = from;
    while (pos < this.sendPos && (this.playoutAt[pos] ?? Infinity) + grace <= now) pos++;
    if (pos > from && !this.echoes.seen) this.echoes.absent = true;
    this.assumedPos = pos;
    this.reportHeard();
    this.pump();
  }

  /** How long after its play-out an unechoed slice counts as played. */
  private get grace(): number {
    return this.echoes.absent ? 0 : this.graceMs;
  }

  private clearTick(): void {
    if (this.tick !== null) this.o.clock.clearTimeout(this.tick);
    this.tick = null;
  }

  private isHeard(p: Phrase): boolean {
    return p.assumedHeard || (p.lastSlice >= 0 && p.lastSlice < this.heardPos);
  }

  private advanceHeard(to: number): void {
    this.heardPos = to;
    if (this.assumedPos < to) this.assumedPos = to;
    this.reportHeard();
  }

  /** Reports the phrases played whole since the last report (onPhraseHeard), in order; per phrase, not per slice. */
  private reportHeard(): void {
    if (!this.o.onPhraseHeard) return;
    const played = Math.max(this.heardPos, this.assumedPos);
    while (this.reportedHeard < this.phrases.length) {
      const p = this.phrases[this.reportedHeard]!;
      if (!p.ended || (p.lastSlice >= 0 && p.lastSlice >= played)) return;
      this.reportedHeard++;
      if (p.lastSlice >= 0) this.o.onPhraseHeard(p.text);
    }
  }

  private markName(slice: Slice): string {
    const base = `${this.o.markPrefix}-${slice.phrase.index}.${slice.n}`;
    return this.epoch === 0 ? base : `${base}~${this.epoch}`;
  }

  private endMs(pos: number): number {
    return pos > 0 ? this.slices[pos - 1]!.endMs : 0;
  }

  private bufferedAheadMs(): number {
    return this.endMs(this.slices.length) - this.endMs(this.sendPos);
  }

  private checkComplete(): void {
    if (this.frozen || this.paused || !this.workerDone || this.sendPos < this.slices.length) return;
    if (Math.max(this.heardPos, this.assumedPos) < this.slices.length) return;
    // Marks that never came back (a client that does not echo them): the clock said it was played.
    for (const p of this.phrases) if (p.lastSlice >= 0) p.assumedHeard = true;
    this.frozen = true;
    this.clearTick();
    this.clearAudioTimer();
    this.settle('played');
  }

  // ---------- the TTS deadline ----------

  /** The worker waits on the provider from now, for `ms` at most. No allocation unless no timer is pending. */
  private expectAudio(ms: number): void {
    const due = this.o.clock.now() + ms;
    this.audioDue = due;
    if (this.audioTimer !== null) {
      if (this.audioTimerAt <= due) return;
      this.o.clock.clearTimeout(this.audioTimer);
    }
    this.audioTimerAt = due;
    this.audioTimer = this.o.clock.setTimeout(this.onAudioTimer, ms);
  }

  private readonly onAudioTimer = (): void => {
    this.audioTimer = null;
    if (this.audioDue === 0 || this.frozen) return;
    const now = this.o.clock.now();
    if (now < this.audioDue) {
      this.audioTimerAt = this.audioDue;
      this.audioTimer = this.o.clock.setTimeout(this.onAudioTimer, this.audioDue - now);
      return;
    }
    this.audioDue = 0;
    // The hung provider turn is cancelled, and the playback fails now: a provider whose stream does not end on
    // cancel cannot hold the turn (the worker, if it ever wakes, finds the playback frozen).
    const turn = this.current;
    this.current = null;
    if (turn) void turn.cancel().catch(() => {});
    this.failTts(
      new Error(this.audioWait === 'first' ? `no audio from TTS within ${this.firstAudioMs} ms` : `TTS audio stalled for ${this.audioIdleMs} ms`),
    );
  };

  private clearAudioTimer(): void {
    this.audioDue = 0;
    if (this.audioTimer !== null) this.o.clock.clearTimeout(this.audioTimer);
    this.audioTimer = null;
  }

  /** TTS failed: freeze what was heard and reject `done` (the session reopens TTS and says the rest). */
  private failTts(err: unknown): boolean {
    if (this.frozen || this.o.signal.aborted) return false;
    this.frozen = true;
    this.ttsFailed = true;
    this.clearTick();
    this.clearAudioTimer();
    this.fail(err instanceof TtsFailure ? err : new TtsFailure(err, this.synthesizing?.text ?? null));
    return true;
  }

  // ---------- synthesis ----------

  private wake(): void {
    const w = this.wakeWorker;
    this.wakeWorker = null;
    w?.();
  }

  private async work(): Promise<void> {
    try {
      for await (const phrase of this.queue) {
        if (this.o.signal.aborted || this.frozen) break;
        this.synthesizing = phrase;
        await this.synthesize(phrase);
        this.synthesizing = null;
        if (this.o.signal.aborted || this.frozen) break;
      }
    } catch (err) {
      if (this.failTts(err)) return;
    }
    this.clearAudioTimer();
    this.workerDone = true;
    if (this.o.signal.aborted && !this.frozen) {
      this.frozen = true;
      this.clearTick();
      this.settle('interrupted');
      return;
    }
    this.pump();
  }

  /**
   * One retry when the TTS fails before producing audio for the phrase; a failure mid-phrase is final. A phrase the
   * voice refuses is skipped.
   */
  private async synthesize(phrase: Phrase): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let produced = false;
      // Slices are built from the TTS chunks: a partial slice is held until it is full or the phrase ends.
      let partial: Uint8Array[] = [];
      let partialBytes = 0;
      try {
        // Synthesis waits while enough audio is ready ahead of what was sent.
        while (this.bufferedAheadMs() >= this.lookaheadMs && !this.frozen && !this.o.signal.aborted) {
          await new Promise<void>((r) => (this.wakeWorker = r));
        }
        if (this.o.signal.aborted || this.frozen) return;
        const started = this.o.clock.now();
        const turn = this.o.tts.startTurn(this.o.signal);
        this.current = turn;
        turn.pushText(phrase.text + ' ');
        turn.end();
        this.audioWait = 'first';
        this.expectAudio(this.firstAudioMs);
        for await (const chunk of turn.audio) {
          if (this.o.signal.aborted || this.frozen) return;
          if (chunk.byteLength === 0) continue;
          this.audioWait = 'next';
          if (!produced && this.ttsFirstAudioAt === 0) {
            this.ttsStartedAt = started;
            this.ttsFirstAudioAt = this.o.clock.now();
          }
          produced = true;
          let offset = 0;
          while (offset < chunk.byteLength) {
            const take = Math.min(chunk.byteLength - offset, this.sliceBytes - partialBytes);
            partial.push(chunk.subarray(offset, offset + take));
            partialBytes += take;
            offset += take;
            if (partialBytes === this.sliceBytes) {
              this.addSlice(phrase, partial, partialBytes);
              partial = [];
              partialBytes = 0;
            }
          }
          // A starved sender does not wait for a full slice (the first audio of a turn leaves at once).
          if (partialBytes > 0 && this.sendPos === this.slices.length && !this.paused && this.leadMs < this.maxLeadMs) {
            this.addSlice(phrase, partial, partialBytes);
            partial = [];
            partialBytes = 0;
          }
          this.pump();
          if (this.bufferedAheadMs() >= this.lookaheadMs) {
            // Held back by the caller's pace, not waiting on the provider: the deadline stops meanwhile.
            this.audioDue = 0;
            while (this.bufferedAheadMs() >= this.lookaheadMs && !this.frozen && !this.o.signal.aborted) {
              await new Promise<void>((r) => (this.wakeWorker = r));
            }
          }
          if (this.o.signal.aborted || this.frozen) return;
          this.expectAudio(this.audioIdleMs);
        }
        this.audioDue = 0;
        if (this.o.signal.aborted || this.frozen) return;
        if (partialBytes > 0) this.addSlice(phrase, partial, partialBytes);
        // Ended without a byte of audio: the caller hears nothing of it, so it is not said (a voice that answers
        // every phrase so ends the call as one that refuses them: two turns with nothing said).
        if (phrase.slices === 0) {
          this.o.onRefused?.(phrase.text, new Error('TTS ended the phrase without audio'));
          return this.skip(phrase);
        }
        phrase.lastSlice = this.slices.length - 1;
        phrase.ended = true;
        this.reportHeard();
        this.pump();
        return;
      } catch (err) {
        if (this.o.signal.aborted || this.frozen) return;
        // The account refused (key, credits, plan): no phrase can be said; the call decides (call-session.ts).
        if (isAccountFailure(err)) throw new TtsFailure(err, phrase.text);
        // Refused (its request is wrong for this voice, a 4xx): retrying, or reopening a healthy session, cannot help.
        if (!produced && !isRetryable(err)) {
          this.o.onRefused?.(phrase.text, err);
          return this.skip(phrase);
        }
        if (produced || attempt >= 1) throw new TtsFailure(err, phrase.text);
      } finally {
        this.audioDue = 0;
        this.current = null;
      }
    }
  }

  /** The phrase is left unsaid; the turn goes on with the next. */
  private skip(phrase: Phrase): void {
    phrase.unsaid = true;
    phrase.ended = true;
    this.reportHeard();
    this.pump();
  }

  private addSlice(phrase: Phrase, parts: Uint8Array[], bytes: number): void {
    let data: Uint8Array;
    if (parts.length === 1) data = parts[0]!;
    else {
      data = new Uint8Array(bytes);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.byteLength;
      }
    }
    const endMs = this.endMs(this.slices.length) + bytes / this.bytesPerMs;
    this.slices.push({ bytes: data, phrase, n: phrase.slices++, endMs });
  }
}
