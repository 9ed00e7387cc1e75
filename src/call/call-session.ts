/**
 * One phone call: the caller's audio goes to STT, finished caller turns start agent turns, the agent's phrases
 * are spoken through TTS, and the caller can interrupt at any time. Concerns live in their own files:
 * turn-taking.ts (when the caller is done / is interrupting), agent-turn.ts (LLM + tools), playback.ts (TTS →
 * transport with marks). This file wires them, owns the timers (silence, call length, resume after a false
 * interruption) and records the transcript.
 */
import type { CallLimits } from '../bots/config-schema.js';
import type { ChatMessage, Language, LlmProvider, SttEvent, SttProvider, SttSession, TtsProvider, TtsSession } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import { LlmFailure, runAgentTurn, splitForSpeech } from './agent-turn.js';
import { Playback } from './playback.js';
import type { CallRecorder } from './recorder.js';
import { SESSION_PHRASES } from './session-phrases.js';
import type { ToolRegistry } from './tool-registry.js';
import type { CallContext, CallControl } from './tool-types.js';
import { CallerTurnTracker, type CallerUtterance } from './turn-taking.js';
import { systemClock, type CallLogger, type Clock, type TranscriptTurn, type TurnLatency } from './types.js';

export interface CallSessionOptions {
  transport: CallTransport;
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  tools: ToolRegistry;
  context: CallContext;
  recorder: CallRecorder;
  limits: CallLimits;
  systemPrompt: string;
  language: Language;
  voice?: string | undefined;
  /** Defaults to the bot config's greeting. */
  greeting?: string | undefined;
  /** Knowledge for this turn (chunks with their sources), put into the prompt. */
  retrieveContext?: ((text: string, signal: AbortSignal) => Promise<string | null>) | undefined;
  log: CallLogger;
  clock?: Clock;
  sttModel?: string | undefined;
  ttsModel?: string | undefined;
  keyterms?: string[] | undefined;
  /** After an interruption with no words within this window, the bot resumes what it had not said. */
  resumeWindowMs?: number;
  maxToolRounds?: number;
}

type BotTurnKind = 'greeting' | 'agent' | 'resume' | 'reprompt' | 'goodbye' | 'notice';

interface BotTurn {
  id: number;
  kind: BotTurnKind;
  controller: AbortController;
  playback: Playback;
  interruptible: boolean;
  interrupted: boolean;
  startedAt: number;
  latency: TurnLatency | null;
}

interface EndRequest {
  reason: string;
  status: 'completed' | 'failed';
}

/** 3 s of 20 ms frames. */
const MAX_HELD_FRAMES = 150;

export interface BargeInMetric {
  detectToClearMs: number;
  speechToClearMs: number | null;
}

export class CallSession {
  private readonly clock: Clock;
  private readonly phrases: (typeof SESSION_PHRASES)[Language];
  private readonly tracker: CallerTurnTracker;
  private readonly history: ChatMessage[] = [];
  private readonly heldAudio: Uint8Array[] = [];
  private readonly callAbort = new AbortController();
  private stt: SttSession | null = null;
  private tts: TtsSession | null = null;
  private turn: BotTurn | null = null;
  private turnSeq = 0;
  private ended = false;
  private endRequested: EndRequest | null = null;
  private pendingTransfer: { to: string; reason: string } | null = null;
  private resume: { timer: unknown } | null = null;
  private silenceSince: number | null = null;
  private silenceTimers: unknown[] = [];
  private bargeInTimer: unknown = null;
  private maxCallTimer: unknown = null;
  private sttFailuresInARow = 0;
  private resolveEnded!: () => void;
  private readonly endedPromise = new Promise<void>((r) => (this.resolveEnded = r));
  private readonly control: CallControl;

  /** Latency of each agent answer (completed or interrupted), in order. */
  readonly turnLatencies: TurnLatency[] = [];
  readonly bargeIns: BargeInMetric[] = [];
  endReason: string | null = null;

  constructor(private readonly o: CallSessionOptions) {
    this.clock = o.clock ?? systemClock;
    this.phrases = SESSION_PHRASES[o.language] ?? SESSION_PHRASES.en;
    this.tracker = new CallerTurnTracker(o.limits, this.clock);
    this.control = {
      endCall: (reason) => {
        this.endRequested ??= { reason: `bot_end_call: ${reason}`, status: 'completed' };
        if (this.turn) this.turn.interruptible = false;
      },
      transferCall: async (to, reason) => {
        this.pendingTransfer = { to, reason };
        if (this.turn) this.turn.interruptible = false;
        this.record({ role: 'system', text: `Transfer to ${to} requested: ${reason}`, ts: this.iso() });
      },
    };
  }

  /** The greeting is spoken without the LLM, so the prompt tells it what was said (the history starts with the caller). */
  private get systemPrompt(): string {
    const greeting = this.o.greeting ?? this.o.context.bot.config.greeting;
    return greeting ? `${this.o.systemPrompt}\n\nYou opened the call by saying: "${greeting}"`.trim() : this.o.systemPrompt;
  }

  /** Runs the call; resolves when it has ended and the end is recorded. */
  async start(): Promise<void> {
    const { transport, recorder } = this.o;
    void recorder.start();
    transport.attach({
      onAudio: (frame) => (this.stt ? this.stt.pushAudio(frame) : this.holdAudio(frame)),
      onDtmf: (digit) => this.callerTyped(`[keypad] ${digit}`),
      onText: (text) => this.callerTyped(text),
      onMark: (name) => this.turn?.playback.onMark(name),
      onClose: (reason) => void this.finish({ reason: `caller_hangup: ${reason}`, status: 'completed' }, false),
    });
    this.maxCallTimer = this.clock.setTimeout(() => this.wrapUp('max_duration', this.phrases.maxDurationGoodbye), this.o.limits.maxCallSec * 1000);

    const sttReady = this.openStt();
    try {
      this.tts = await this.o.tts.open({ format: transport.outputFormat, language: this.o.language, voice: this.o.voice, model: this.o.ttsModel });
    } catch (err) {
      this.o.log.error({ err: errText(err) }, 'TTS open failed');
      // One retry: a call that cannot speak is no call.
      try {
        this.tts = await this.o.tts.open({ format: transport.outputFormat, language: this.o.language, voice: this.o.voice, model: this.o.ttsModel });
      } catch (err2) {
        this.o.log.error({ err: errText(err2) }, 'TTS open failed twice');
        void this.finish({ reason: 'provider_failure: tts', status: 'failed' });
        return this.endedPromise;
      }
    }
    // The caller may have hung up while the session was opening: finish() found nothing to close then.
    if (this.ended) {
      void this.tts?.close().catch(() => {});
      return this.endedPromise;
    }
    const greeting = this.o.greeting ?? this.o.context.bot.config.greeting;
    if (greeting) this.speak(greeting, 'greeting', true);
    else this.enterListening();
    void sttReady;
    return this.endedPromise;
  }

  /**
   * Ends the call from outside (shutdown). By default politely: stop what is being said, a short goodbye
   * (not interruptible), then hang up; `immediate` hangs up at once. Resolves when the call has ended.
   */
  async end(reason: string, options: { immediate?: boolean } = {}): Promise<void> {
    if (options.immediate || !this.tts) await this.finish({ reason, status: 'completed' });
    else this.wrapUp(reason, this.phrases.shutdownGoodbye);
    return this.endedPromise;
  }

  // ---------- STT ----------

  /**
   * Audio that arrives while no STT session is open (connecting, reconnecting) is kept — the last
   * MAX_HELD_FRAMES of it — so the first words of the caller are not lost. Not the steady-state path.
   */
  private holdAudio(frame: Uint8Array): void {
    if (this.ended) return;
    this.heldAudio.push(frame.slice());
    if (this.heldAudio.length > MAX_HELD_FRAMES) this.heldAudio.shift();
  }

  private async openStt(): Promise<void> {
    while (!this.ended) {
      let session: SttSession;
      try {
        session = await this.o.stt.open({
          format: this.o.transport.inputFormat,
          language: this.o.language,
          model: this.o.sttModel,
          keyterms: this.o.keyterms,
          signal: this.callAbort.signal,
        });
      } catch (err) {
        if (!this.sttFailed(err)) return;
        continue;
      }
      if (this.ended) {
        void session.close().catch(() => {});
        return;
      }
      this.stt = session;
      // The caller may have started talking while the recognizer was connecting: hand it what we held.
      for (const frame of this.heldAudio.splice(0)) session.pushAudio(frame);
      let failure: unknown = null;
      try {
        for await (const ev of session.events) {
          if (this.ended) break;
          if (ev.type === 'error') {
            failure = ev.error;
            break;
          }
          this.onSttEvent(ev);
        }
      } catch (err) {
        failure = err;
      }
      this.stt = null;
      void session.close().catch(() => {});
      if (this.ended) return;
      if (!this.sttFailed(failure ?? new Error('STT stream ended'))) return;
    }
  }

  /** One quick reconnect per failure streak; then apologise and end. Returns whether to reconnect. */
  private sttFailed(err: unknown): boolean {
    if (this.ended) return false;
    this.sttFailuresInARow++;
    this.o.log.warn({ err: errText(err), attempt: this.sttFailuresInARow }, 'STT session failed');
    if (this.sttFailuresInARow <= 1) return true;
    this.failCall('stt');
    return false;
  }

  private onSttEvent(ev: SttEvent): void {
    if (ev.type !== 'speech_started') this.sttFailuresInARow = 0;
    const wordsBefore = this.tracker.wordEvents;
    const utterance = this.tracker.handle(ev);
    if (this.tracker.wordEvents !== wordsBefore) {
      // New words: the caller is talking (so no silence, and an interruption was real).
      this.silenceSince = null;
      this.cancelResume();
      if (this.tracker.hasWords) this.o.transport.notify({ type: 'transcript', role: 'caller', text: this.tracker.pendingText, final: false });
    }
    if (utterance) {
      this.callerFinished(utterance);
      return;
    }
    if (this.turn && this.turn.interruptible && !this.turn.interrupted) {
      if (this.tracker.isInterruption()) this.interrupt(true);
      else this.armBargeInTimer();
    }
  }

  private armBargeInTimer(): void {
    const wait = this.tracker.msUntilTimeCriterion();
    if (wait === null || this.bargeInTimer !== null) return;
    this.bargeInTimer = this.clock.setTimeout(() => {
      this.bargeInTimer = null;
      if (this.turn && this.turn.interruptible && !this.turn.interrupted && this.tracker.isInterruption()) this.interrupt(true);
    }, wait);
  }

  // ---------- caller turns ----------

  private callerFinished(u: CallerUtterance): void {
    if (this.ended) return;
    if (this.turn) {
      // While the bot talks, only speech that passes the barge-in bar is a turn; backchannels are dropped.
      if (!this.turn.interruptible) return;
      if (!this.turn.interrupted && !this.tracker.isInterruptionUtterance(u)) return;
      this.interrupt(false);
    }
    this.callerTurn(u.text, u);
  }

  /** DTMF and typed text are deliberate: they interrupt the bot at once. */
  private callerTyped(text: string): void {
    if (this.ended || !text.trim()) return;
    if (this.turn) {
      if (!this.turn.interruptible) return;
      this.interrupt(false);
    }
    this.callerTurn(text.trim(), null);
  }

  private callerTurn(text: string, u: CallerUtterance | null): void {
    this.cancelResume();
    this.clearSilenceTimers();
    this.silenceSince = null;
    this.record({ role: 'caller', text, ts: this.iso(u?.speechStartedAt ?? u?.closedAt) });
    this.o.transport.notify({ type: 'transcript', role: 'caller', text, final: true });
    pushMessage(this.history, { role: 'user', content: text });
    this.startAgentTurn(text, u);
  }

  // ---------- bot turns ----------

  private newTurn(kind: BotTurnKind, interruptible: boolean, latency: TurnLatency | null): BotTurn {
    const controller = new AbortController();
    const id = ++this.turnSeq;
    const turn: BotTurn = {
      id,
      kind,
      controller,
      interruptible,
      interrupted: false,
      startedAt: this.clock.now(),
      latency,
      playback: undefined as unknown as Playback,
    };
    turn.playback = new Playback({
      tts: this.tts as TtsSession,
      transport: this.o.transport,
      clock: this.clock,
      signal: controller.signal,
      markPrefix: `t${id}`,
      onFirstAudio: (ttsMs) => this.onFirstAudio(turn, ttsMs),
    });
    this.turn = turn;
    this.clearSilenceTimers();
    return turn;
  }

  private onFirstAudio(turn: BotTurn, ttsMs: number): void {
    this.o.transport.notify({ type: 'state', state: 'speaking' });
    const l = turn.latency;
    if (!l) return;
    const now = this.clock.now();
    l.ttsFirstAudioMs = ttsMs;
    l.responseMs = now - turn.startedAt;
    if (l.endpointMs !== null) l.totalMs = l.responseMs + l.endpointMs;
  }

  private startAgentTurn(text: string, u: CallerUtterance | null): void {
    if (!this.tts) return;
    const latency: TurnLatency = {
      endpointMs: u?.endpointMs ?? null,
      retrievalMs: null,
      llmFirstTokenMs: null,
      ttsFirstAudioMs: null,
      responseMs: null,
      totalMs: null,
    };
    const turn = this.newTurn('agent', true, latency);
    if (u) turn.startedAt = u.closedAt;
    this.o.transport.notify({ type: 'state', state: 'thinking' });
    void (async () => {
      try {
        const result = await runAgentTurn({
          llm: this.o.llm,
          tools: this.o.tools,
          context: this.o.context,
          control: this.control,
          system: this.systemPrompt,
          history: this.history,
          userText: text,
          retrieveContext: this.o.retrieveContext,
          playback: turn.playback,
          signal: turn.controller.signal,
          clock: this.clock,
          maxToolRounds: this.o.maxToolRounds,
          onRetrieval: (ms) => (latency.retrievalMs = ms),
          onFirstToken: () => (latency.llmFirstTokenMs = this.clock.now() - turn.startedAt),
        });
        turn.playback.finish();
        const outcome = await turn.playback.done;
        if (outcome === 'played' && this.turn === turn) {
          if (result.finalText) pushMessage(this.history, { role: 'assistant', content: result.finalText });
          this.completeTurn(turn, result.text);
        }
      } catch (err) {
        if (turn.interrupted || this.ended) return;
        this.o.log.error({ err: errText(err) }, 'agent turn failed');
        this.turn = null;
        this.failCall(err instanceof LlmFailure ? 'llm' : 'tts');
      }
    })();
  }

  /** Speaks fixed text (greeting, re-prompt, goodbye…) without the LLM. */
  private speak(text: string, kind: BotTurnKind, interruptible: boolean): Promise<void> {
    if (!this.tts || this.ended) return Promise.resolve();
    const turn = this.newTurn(kind, interruptible, null);
    for (const phrase of splitForSpeech(text)) turn.playback.say(phrase);
    turn.playback.finish();
    return turn.playback.done.then(
      (outcome) => {
        if (outcome !== 'played' || this.turn !== turn) return;
        if (kind === 'resume') pushMessage(this.history, { role: 'assistant', content: text });
        this.completeTurn(turn, text);
      },
      (err: unknown) => {
        if (turn.interrupted || this.ended) return;
        this.o.log.error({ err: errText(err), kind }, 'speaking failed');
        this.turn = null;
        if (kind === 'goodbye') void this.finish(this.endRequested ?? { reason: 'provider_failure: tts', status: 'failed' });
        else this.failCall('tts', false);
      },
    );
  }

  private completeTurn(turn: BotTurn, text: string): void {
    this.turn = null;
    this.clearBargeInTimer();
    if (text) {
      this.record({ role: 'bot', text, ts: this.iso(turn.startedAt), ...(turn.latency ? { latency: turn.latency } : {}) });
      this.o.transport.notify({ type: 'transcript', role: 'bot', text, final: true });
    }
    if (turn.latency) {
      this.turnLatencies.push(turn.latency);
      this.o.transport.notify({ type: 'turn_latency', turn: turn.id, latency: { ...turn.latency } });
    }
    this.afterSpeech(turn.kind);
  }

  private afterSpeech(kind: BotTurnKind): void {
    if (this.ended) return;
    if (this.pendingTransfer) {
      const { to } = this.pendingTransfer;
      this.pendingTransfer = null;
      void this.o.transport.transfer(to).then(
        () => this.finish({ reason: 'transferred', status: 'completed' }, false),
        (err: unknown) => {
          this.o.log.warn({ err: errText(err) }, 'transfer failed');
          this.record({ role: 'system', text: 'Transfer failed', ts: this.iso() });
          void this.speak(this.phrases.transferFailed, 'notice', true);
        },
      );
      return;
    }
    if (this.endRequested) {
      void this.finish(this.endRequested);
      return;
    }
    if (kind !== 'reprompt') this.silenceSince = null;
    this.enterListening();
  }

  // ---------- barge-in ----------

  /** Caller speech cut the bot off: clear the line first, then stop the turn and keep only what was heard. */
  private interrupt(mayResume: boolean): void {
    const turn = this.turn;
    if (!turn || turn.interrupted) return;
    const detectedAt = this.clock.now();
    this.o.transport.clear();
    const clearedAt = this.clock.now();
    turn.interrupted = true;
    turn.playback.interrupt();
    turn.controller.abort();
    this.turn = null;
    this.clearBargeInTimer();
    const speechAt = this.tracker.speechStartedAt;
    const metric: BargeInMetric = { detectToClearMs: clearedAt - detectedAt, speechToClearMs: speechAt === null ? null : clearedAt - speechAt };
    this.bargeIns.push(metric);
    const heard = turn.playback.heardText();
    const latency = turn.latency ? { ...turn.latency, bargeInDetectToClearMs: metric.detectToClearMs, ...(metric.speechToClearMs === null ? {} : { bargeInSpeechToClearMs: metric.speechToClearMs }) } : undefined;
    if (latency) this.turnLatencies.push(latency);
    if (heard) {
      this.record({ role: 'bot', text: heard, ts: this.iso(turn.startedAt), interrupted: true, ...(latency ? { latency } : {}) });
      if (turn.kind === 'agent' || turn.kind === 'resume') pushMessage(this.history, { role: 'assistant', content: heard });
    }
    this.o.transport.notify({ type: 'state', state: 'listening' });
    if (mayResume && (turn.kind === 'agent' || turn.kind === 'resume' || turn.kind === 'greeting')) {
      // The unheard remainder is read when the window closes: the LLM's last words arrive after the abort.
      const timer = this.clock.setTimeout(() => this.resumeIfQuiet(turn), this.o.resumeWindowMs ?? 1200);
      this.resume = { timer };
    }
  }

  private resumeIfQuiet(turn: BotTurn): void {
    if (!this.resume || this.ended) return;
    this.resume = null;
    if (this.turn) return;
    // No new words since the interruption: it was noise or side talk; forget it and finish the answer.
    this.tracker.reset();
    const rest = turn.playback.unheardText();
    if (rest) void this.speak(rest, 'resume', true);
    else this.enterListening();
  }

  private cancelResume(): void {
    if (!this.resume) return;
    this.clock.clearTimeout(this.resume.timer);
    this.resume = null;
  }

  // ---------- silence and limits ----------

  private enterListening(): void {
    if (this.ended || this.turn) return;
    this.o.transport.notify({ type: 'state', state: 'listening' });
    this.clearSilenceTimers();
    const now = this.clock.now();
    this.silenceSince ??= now;
    const hangAt = this.silenceSince + this.o.limits.silenceHangupSec * 1000;
    if (hangAt <= now) return this.wrapUp('silence', this.phrases.silenceGoodbye);
    const repromptAt = now + this.o.limits.silenceRepromptSec * 1000;
    if (repromptAt < hangAt) this.silenceTimers.push(this.clock.setTimeout(() => this.onSilence('reprompt'), repromptAt - now));
    this.silenceTimers.push(this.clock.setTimeout(() => this.onSilence('hangup'), hangAt - now));
  }

  private onSilence(what: 'reprompt' | 'hangup'): void {
    if (this.ended || this.turn || this.resume) return;
    // The caller is mid-sentence: look again shortly.
    if (this.tracker.hasWords) {
      this.silenceTimers.push(this.clock.setTimeout(() => this.onSilence(what), 1000));
      return;
    }
    if (what === 'hangup') this.wrapUp('silence', this.phrases.silenceGoodbye);
    else void this.speak(this.phrases.reprompt, 'reprompt', true);
  }

  private clearSilenceTimers(): void {
    for (const t of this.silenceTimers) this.clock.clearTimeout(t);
    this.silenceTimers = [];
  }

  /** Polite end: stop whatever is happening, say goodbye (not interruptible), hang up. */
  private wrapUp(reason: string, goodbye: string, status: 'completed' | 'failed' = 'completed'): void {
    if (this.ended || this.endRequested) return;
    this.endRequested = { reason, status };
    this.cancelResume();
    if (this.turn) {
      const t = this.turn;
      t.interrupted = true;
      this.o.transport.clear();
      t.playback.interrupt();
      t.controller.abort();
      const heard = t.playback.heardText();
      if (heard) this.record({ role: 'bot', text: heard, ts: this.iso(t.startedAt), interrupted: true });
      this.turn = null;
    }
    if (this.tts) void this.speak(goodbye, 'goodbye', false);
    else void this.finish(this.endRequested);
  }

  private failCall(provider: 'stt' | 'llm' | 'tts', canSpeak = provider !== 'tts'): void {
    if (this.ended) return;
    const reason = `provider_failure: ${provider}`;
    if (canSpeak && this.tts) this.wrapUp(reason, this.phrases.apology, 'failed');
    else void this.finish({ reason, status: 'failed' });
  }

  // ---------- end ----------

  private async finish(req: EndRequest, hangUp = true): Promise<void> {
    if (this.ended) return this.endedPromise;
    this.ended = true;
    this.endReason = req.reason;
    this.clearSilenceTimers();
    this.clearBargeInTimer();
    this.cancelResume();
    if (this.maxCallTimer !== null) this.clock.clearTimeout(this.maxCallTimer);
    if (this.turn) {
      const t = this.turn;
      t.interrupted = true;
      t.playback.interrupt();
      t.controller.abort();
      const heard = t.playback.heardText();
      if (heard && t.kind !== 'goodbye') this.record({ role: 'bot', text: heard, ts: this.iso(t.startedAt), interrupted: true });
      this.turn = null;
    }
    this.callAbort.abort();
    this.o.transport.notify({ type: 'state', state: 'ended' });
    const closing: Promise<unknown>[] = [];
    if (this.stt) closing.push(this.stt.close());
    if (this.tts) closing.push(this.tts.close());
    if (hangUp) closing.push(this.o.transport.hangup(req.reason));
    await Promise.race([Promise.allSettled(closing), new Promise((r) => this.clock.setTimeout(() => r(null), 2000))]);
    await this.o.recorder.end({ status: req.status, reason: req.reason }).catch(() => {});
    this.resolveEnded();
  }

  // ---------- helpers ----------

  private record(turn: TranscriptTurn): void {
    this.o.recorder.appendTurn(turn).catch((err: unknown) => this.o.log.error({ err: errText(err) }, 'recording a turn failed'));
  }

  private clearBargeInTimer(): void {
    if (this.bargeInTimer !== null) this.clock.clearTimeout(this.bargeInTimer);
    this.bargeInTimer = null;
  }

  private iso(at?: number | null): string {
    return new Date(at ?? this.clock.now()).toISOString();
  }
}

/** Consecutive plain user (or assistant) messages are merged: some LLM APIs require alternating roles. */
function pushMessage(history: ChatMessage[], msg: ChatMessage): void {
  const last = history[history.length - 1];
  if (last && last.role === msg.role && (msg.role === 'user' || (msg.role === 'assistant' && last.role === 'assistant' && !last.toolCalls?.length))) {
    (last as { content: string }).content += `\n${(msg as { content: string }).content}`;
    return;
  }
  history.push(msg);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
