/**
 * One call, conducted. The caller's audio goes to the recognizer (stt-connection.ts) and to a VAD
 * (caller-voice.ts); turn-taking.ts says when the caller is done; agent-turn.ts answers; each bot turn being
 * spoken is a SpeakingTurn (speaking-turn.ts) over a paced Playback (playback.ts). This file holds the call's
 * state, owns its timers (timers.ts) and records the transcript.
 *
 * React to voice, confirm with words: a caller onset while the bot speaks pauses it at once (the line is
 * cleared); words or sustained speech commit the interruption (the turn is stopped end to end); otherwise the
 * bot resumes from the first audio the caller did not hear.
 *
 * States: greeting → listening ⇄ thinking → speaking ⇄ paused → listening …; wrapping-up → ended.
 */
import type { CallLimits } from '../bots/config-schema.js';
import type { ChatMessage, Language, LlmProvider, SttEvent, SttProvider, TtsProvider, TtsSession } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import { LlmFailure, runAgentTurn, splitForSpeech } from './agent-turn.js';
import { localCallerVoice, type CallerVoice, type CallerVoiceFactory, type VoiceEvent } from './caller-voice.js';
import type { EndOfTurnModel } from './end-of-turn.js';
import type { PlaybackTiming } from './playback.js';
import type { CallRecorder } from './recorder.js';
import { SESSION_PHRASES } from './session-phrases.js';
import { SpeakingTurn, type BotTurnKind, type StopReason } from './speaking-turn.js';
import { SttConnection } from './stt-connection.js';
import { CallTimers } from './timers.js';
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
  /** The caller's VAD. Default: a local Silero VAD per call; null = none (the recognizer's events stand in). */
  callerVoice?: CallerVoiceFactory | null;
  /** End-of-turn judge. Default: the per-language rules of end-of-turn.ts. */
  endOfTurn?: EndOfTurnModel;
  /** A pause that nothing confirms resumes this long after the caller went quiet. Default 1200 ms. */
  resumeWindowMs?: number;
  /** Audio sent ahead of what the caller has heard. Default 400 ms. */
  maxLeadMs?: number;
  maxToolRounds?: number;
}

export type CallState = 'greeting' | 'listening' | 'thinking' | 'speaking' | 'paused' | 'wrapping-up' | 'ended';

interface EndRequest {
  reason: string;
  status: 'completed' | 'failed';
}

export interface BargeInMetric {
  /** Caller speech onset → line cleared (null when nothing was playing). */
  onsetToQuietMs: number | null;
  outcome: 'committed' | 'resumed';
  /** Onset → committed, or onset → resumed. */
  onsetToOutcomeMs: number;
  /** Commit → transport.clear() (0 when the pause had cleared it). */
  detectToClearMs: number;
}

/** After a committed interruption with no words at all, the unheard rest is spoken this long after the caller went quiet. */
const RESUME_AFTER_COMMIT_MS = 2500;

export class CallSession {
  private readonly clock: Clock;
  private readonly phrases: (typeof SESSION_PHRASES)[Language];
  private readonly tracker: CallerTurnTracker;
  private readonly timers: CallTimers;
  private readonly history: ChatMessage[] = [];
  private readonly callAbort = new AbortController();
  private readonly stt: SttConnection;
  private voice: CallerVoice | null = null;
  private tts: TtsSession | null = null;
  private turn: SpeakingTurn | null = null;
  /** A committed interruption whose rest may still be spoken if the caller says nothing. */
  private cutTurn: SpeakingTurn | null = null;
  private turnSeq = 0;
  private endRequested: EndRequest | null = null;
  private pendingTransfer: { to: string; reason: string } | null = null;
  private silenceSince: number | null = null;
  private sttFailuresInARow = 0;
  private resolveEnded!: () => void;
  private readonly endedPromise = new Promise<void>((r) => (this.resolveEnded = r));
  private readonly control: CallControl;

  state: CallState = 'listening';
  /** Latency of each agent answer (completed or interrupted), in order. */
  readonly turnLatencies: TurnLatency[] = [];
  readonly bargeIns: BargeInMetric[] = [];
  endReason: string | null = null;

  constructor(private readonly o: CallSessionOptions) {
    this.clock = o.clock ?? systemClock;
    this.phrases = SESSION_PHRASES[o.language] ?? SESSION_PHRASES.en;
    this.tracker = new CallerTurnTracker(o.limits, this.clock, o.language, o.endOfTurn);
    this.timers = new CallTimers(this.clock);
    this.stt = new SttConnection({
      provider: o.stt,
      open: { format: o.transport.inputFormat, language: o.language, model: o.sttModel, keyterms: o.keyterms },
      signal: this.callAbort.signal,
      onEvent: (ev) => this.onSttEvent(ev),
      onFailure: (err) => this.sttFailed(err),
    });
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

  private get ended(): boolean {
    return this.state === 'ended';
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
      onAudio: (frame) => {
        this.voice?.push(frame);
        this.stt.push(frame);
      },
      onDtmf: (digit) => this.callerTyped(`[keypad] ${digit}`),
      onText: (text) => this.callerTyped(text),
      onMark: (name) => this.turn?.playback.onMark(name),
      onClose: (reason) => void this.finish({ reason: `caller_hangup: ${reason}`, status: 'completed' }, false),
    });
    this.timers.set('max-length', this.o.limits.maxCallSec * 1000, () => this.wrapUp('max_duration', this.phrases.maxDurationGoodbye));
    void this.stt.run();
    void this.openVoice();
    this.tts = await this.openTts();
    if (!this.tts) return this.endedPromise;
    // The caller may have hung up while the session was opening: finish() found nothing to close then.
    if (this.ended) {
      void this.tts.close().catch(() => {});
      return this.endedPromise;
    }
    const greeting = this.o.greeting ?? this.o.context.bot.config.greeting;
    if (greeting) this.speak(greeting, 'greeting', true);
    else this.enterListening();
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

  private async openTts(): Promise<TtsSession | null> {
    const open = (): Promise<TtsSession> =>
      this.o.tts.open({ format: this.o.transport.outputFormat, language: this.o.language, voice: this.o.voice, model: this.o.ttsModel });
    try {
      return await open();
    } catch (err) {
      this.o.log.error({ err: errText(err) }, 'TTS open failed');
    }
    // One retry: a call that cannot speak is no call.
    try {
      return await open();
    } catch (err) {
      this.o.log.error({ err: errText(err) }, 'TTS open failed twice');
      void this.finish({ reason: 'provider_failure: tts', status: 'failed' });
      return null;
    }
  }

  private async openVoice(): Promise<void> {
    const factory = this.o.callerVoice === undefined ? localCallerVoice() : this.o.callerVoice;
    if (!factory) return;
    try {
      const voice = await factory({ format: this.o.transport.inputFormat, clock: this.clock, onEvent: (e) => this.onVoice(e) });
      if (this.ended) void voice.close();
      else this.voice = voice;
    } catch (err) {
      this.o.log.warn({ err: errText(err) }, 'caller VAD unavailable; barge-in waits for the recognizer');
    }
  }

  // ---------- the caller: voice, words, end of turn ----------

  private onVoice(ev: VoiceEvent): void {
    if (this.ended) return;
    this.tracker.voice(ev);
    if (ev.type === 'onset') {
      this.timers.clear('resume');
      this.pauseForCaller(ev.at);
    } else {
      // Ask the recognizer for its final now rather than after its own endpointing.
      this.stt.finalize();
      this.afterCallerQuiet();
    }
    this.checkEndOfTurn();
  }

  private onSttEvent(ev: SttEvent): void {
    if (ev.type !== 'speech_started') this.sttFailuresInARow = 0;
    const wordsBefore = this.tracker.wordEvents;
    this.tracker.handle(ev);
    if (this.tracker.wordEvents !== wordsBefore) {
      // New words: the caller is talking (so no silence, and an interruption after a cut was real).
      this.silenceSince = null;
      this.cutTurn = null;
      this.timers.clear('resume');
      if (this.tracker.hasWords) this.o.transport.notify({ type: 'transcript', role: 'caller', text: this.tracker.pendingText, final: false });
    }
    // The recognizer's own speech start stands in for a VAD the call does not have (or that missed it).
    if (ev.type === 'speech_started' && !this.tracker.inSpeech) this.pauseForCaller(this.clock.now());
    this.checkBargeIn();
    // The recognizer's verdict on a pause comes first: the end-of-turn check forgets a burst without words.
    if (ev.type === 'final' || ev.type === 'utterance_end') this.afterCallerQuiet();
    this.checkEndOfTurn();
  }

  private checkEndOfTurn(): void {
    const d = this.tracker.check();
    if (!d) return this.timers.clear('end-of-turn');
    if ('waitMs' in d) return this.timers.set('end-of-turn', d.waitMs, () => this.checkEndOfTurn());
    this.timers.clear('end-of-turn');
    this.callerFinished(d.close);
  }

  private callerFinished(u: CallerUtterance): void {
    if (this.ended) return;
    const t = this.turn;
    if (t) {
      // While the bot talks, only speech that passes the barge-in bar is a turn; backchannels are dropped.
      if (!t.interruptible) return;
      if (t.paused && !this.tracker.isInterruptionUtterance(u)) return this.resumeTurn(t);
      if (!t.paused && !this.tracker.isInterruptionUtterance(u)) return;
      this.commitInterruption(t);
    }
    this.callerTurn(u.text, u);
  }

  /** DTMF and typed text are deliberate: they interrupt the bot at once. */
  private callerTyped(text: string): void {
    if (this.ended || !text.trim()) return;
    if (this.turn) {
      if (!this.turn.interruptible) return;
      this.commitInterruption(this.turn);
    }
    this.callerTurn(text.trim(), null);
  }

  private callerTurn(text: string, u: CallerUtterance | null): void {
    this.cutTurn = null;
    this.timers.clear('resume', 'silence-reprompt', 'silence-hangup');
    this.silenceSince = null;
    this.record({ role: 'caller', text, ts: this.iso(u?.speechStartedAt ?? u?.closedAt) });
    this.o.transport.notify({ type: 'transcript', role: 'caller', text, final: true });
    pushMessage(this.history, { role: 'user', content: text });
    this.startAgentTurn(text, u);
  }

  // ---------- barge-in: pause on voice, commit on words, resume otherwise ----------

  private pauseForCaller(onsetAt: number): void {
    const t = this.turn;
    if (!t || !t.interruptible || !t.active || t.paused) return;
    t.pause(onsetAt, this.clock.now());
    this.setState('paused');
    this.checkBargeIn();
    // Without a VAD nothing will say the caller went quiet: look again after the window.
    if (!this.tracker.hasVoice) this.armResume();
  }

  /** Words (the existing rules) or sustained speech turn a pause into an interruption. */
  private checkBargeIn(): void {
    const t = this.turn;
    if (!t || !t.interruptible || !t.active) return;
    const sustained = this.o.limits.bargeInSustainedMs ?? 1000;
    if (this.tracker.isInterruption() || (this.tracker.hasVoice && this.tracker.sustainedSpeechMs() >= sustained)) {
      this.commitInterruption(t);
      return;
    }
    const waits = [this.tracker.msUntilTimeCriterion(), this.tracker.inSpeech ? sustained - this.tracker.sustainedSpeechMs() : null].filter((w): w is number => w !== null && w > 0);
    if (waits.length > 0 && !this.timers.has('barge-in')) this.timers.set('barge-in', Math.min(...waits), () => this.checkBargeIn());
  }

  /** The caller went quiet (VAD end, or the recognizer had its say): resume a pause nothing confirmed. */
  private afterCallerQuiet(): void {
    if (this.tracker.inSpeech) return;
    const t = this.turn;
    if (t?.paused && t.active) {
      if (this.tracker.recognizerDone && !this.tracker.isInterruption()) return this.resumeTurn(t);
      this.armResume();
    } else if (this.cutTurn && !this.tracker.hasWords) {
      const cut = this.cutTurn;
      this.timers.set('resume', RESUME_AFTER_COMMIT_MS, () => this.speakRestOf(cut));
    }
  }

  private armResume(): void {
    this.timers.set('resume', this.o.resumeWindowMs ?? 1200, () => {
      const t = this.turn;
      if (!t?.paused || !t.active) return;
      if (this.tracker.inSpeech) return; // the VAD end will look again
      this.resumeTurn(t);
    });
  }

  private resumeTurn(t: SpeakingTurn): void {
    const p = t.resume();
    if (!p) return;
    this.timers.clear('resume', 'barge-in');
    // The burst was not addressed to the bot (a cough, "uh-huh", side talk): forget it.
    this.tracker.reset();
    const onsetToOutcomeMs = this.clock.now() - p.onsetAt;
    if (t.latency) t.latency.bargeInOnsetToResumeMs = onsetToOutcomeMs;
    if (p.quietAt !== null) this.bargeIns.push({ onsetToQuietMs: p.quietAt - p.onsetAt, outcome: 'resumed', onsetToOutcomeMs, detectToClearMs: 0 });
    this.setState(t.playback.started ? 'speaking' : 'thinking');
  }

  private commitInterruption(t: SpeakingTurn): void {
    const now = this.clock.now();
    const pause = t.pauseInfo;
    const wasPaused = pause !== null;
    this.stopTurn(t, 'interrupted', (latency) => {
      const onsetAt = pause?.onsetAt ?? this.tracker.speechStartedAt ?? now;
      if (pause?.quietAt != null) latency.bargeInOnsetToQuietMs = pause.quietAt - onsetAt;
      else if (!wasPaused && t.playback.started) latency.bargeInOnsetToQuietMs = now - onsetAt;
      latency.bargeInOnsetToCommitMs = now - onsetAt;
      latency.bargeInDetectToClearMs = 0;
    });
    const onsetAt = pause?.onsetAt ?? this.tracker.speechStartedAt ?? now;
    const quietAt = pause ? pause.quietAt : t.playback.started ? now : null;
    this.bargeIns.push({ onsetToQuietMs: quietAt === null ? null : quietAt - onsetAt, outcome: 'committed', onsetToOutcomeMs: now - onsetAt, detectToClearMs: 0 });
    if (t.kind === 'agent' || t.kind === 'resume' || t.kind === 'greeting') {
      this.cutTurn = t;
      // The unheard remainder is read when the window closes: the LLM's last words arrive after the abort.
      this.timers.set('resume', this.o.resumeWindowMs ?? 1200, () => this.speakRestOf(t));
    }
    this.setState('listening');
  }

  /** A committed interruption that brought no words after all (side talk): finish what was being said. */
  private speakRestOf(cut: SpeakingTurn): void {
    if (this.ended || this.turn || this.cutTurn !== cut) return;
    if (this.tracker.inSpeech) return;
    this.cutTurn = null;
    this.tracker.reset();
    const rest = cut.playback.unheardText();
    if (rest) this.speak(rest, 'resume', true);
    else this.enterListening();
  }

  // ---------- bot turns ----------

  private newTurn(kind: BotTurnKind, interruptible: boolean, latency: TurnLatency | null, startedAt = this.clock.now()): SpeakingTurn {
    const turn = new SpeakingTurn(++this.turnSeq, kind, interruptible, latency, startedAt, this.o.transport, {
      tts: this.tts as TtsSession,
      clock: this.clock,
      ...(this.o.maxLeadMs !== undefined ? { maxLeadMs: this.o.maxLeadMs } : {}),
      onFirstAudio: (timing) => this.onFirstAudio(turn, timing),
    });
    this.turn = turn;
    this.timers.clear('silence-reprompt', 'silence-hangup', 'barge-in');
    return turn;
  }

  private onFirstAudio(turn: SpeakingTurn, timing: PlaybackTiming): void {
    if (this.turn === turn && this.state !== 'paused' && this.state !== 'wrapping-up') this.setState(turn.kind === 'greeting' ? 'greeting' : 'speaking');
    const l = turn.latency;
    if (!l) return;
    l.ttsFirstAudioMs = timing.ttsFirstAudioAt - turn.startedAt;
    l.responseMs = timing.sentAt - turn.startedAt;
    l.totalMs = l.responseMs;
  }

  private startAgentTurn(text: string, u: CallerUtterance | null): void {
    if (!this.tts) return;
    const base = u?.speechEndedAt ?? u?.closedAt ?? this.clock.now();
    const latency: TurnLatency = {
      speechMs: u?.speechStartedAt != null && u.speechEndedAt != null ? u.speechEndedAt - u.speechStartedAt : null,
      sttFinalMs: u?.sttFinalAt != null ? u.sttFinalAt - base : null,
      endpointMs: u?.endpointMs ?? null,
      retrievalMs: null,
      llmFirstTokenMs: null,
      ttsFirstAudioMs: null,
      responseMs: null,
      totalMs: null,
    };
    const turn = this.newTurn('agent', true, latency, base);
    this.setState('thinking');
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
          signal: turn.signal,
          clock: this.clock,
          maxToolRounds: this.o.maxToolRounds,
          onRetrieval: (ms) => (latency.retrievalMs = ms),
          onFirstToken: () => (latency.llmFirstTokenMs = this.clock.now() - base),
        });
        turn.playback.finish();
        const outcome = await turn.playback.done;
        if (outcome === 'played' && this.turn === turn) {
          if (result.finalText) pushMessage(this.history, { role: 'assistant', content: result.finalText });
          this.completeTurn(turn, result.text);
        }
      } catch (err) {
        if (!turn.active || this.ended) return;
        this.o.log.error({ err: errText(err) }, 'agent turn failed');
        this.turn = null;
        this.failCall(err instanceof LlmFailure ? 'llm' : 'tts');
      }
    })();
  }

  /** Speaks fixed text (greeting, re-prompt, goodbye…) without the LLM. */
  private speak(text: string, kind: BotTurnKind, interruptible: boolean): void {
    if (!this.tts || this.ended) return;
    const turn = this.newTurn(kind, interruptible, null);
    if (kind !== 'goodbye') this.setState(kind === 'greeting' ? 'greeting' : 'thinking');
    for (const phrase of splitForSpeech(text)) turn.playback.say(phrase);
    turn.playback.finish();
    void turn.playback.done.then(
      (outcome) => {
        if (outcome !== 'played' || this.turn !== turn) return;
        if (kind === 'resume') pushMessage(this.history, { role: 'assistant', content: text });
        this.completeTurn(turn, text);
      },
      (err: unknown) => {
        if (!turn.active || this.ended) return;
        this.o.log.error({ err: errText(err), kind }, 'speaking failed');
        this.turn = null;
        if (kind === 'goodbye') void this.finish(this.endRequested ?? { reason: 'provider_failure: tts', status: 'failed' });
        else this.failCall('tts', false);
      },
    );
  }

  private completeTurn(turn: SpeakingTurn, text: string): void {
    this.turn = null;
    this.timers.clear('barge-in');
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

  /**
   * The one way a turn ends early (interruption, wrap-up, end of call): stop it, then keep what the caller
   * heard — in the transcript (flagged interrupted) and, for answers, in the conversation.
   */
  private stopTurn(t: SpeakingTurn, reason: StopReason, addLatency?: (l: TurnLatency) => void): void {
    const heard = t.stop(reason);
    if (this.turn === t) this.turn = null;
    this.timers.clear('barge-in');
    const latency = t.latency ? { ...t.latency } : undefined;
    if (latency) {
      addLatency?.(latency);
      if (reason === 'interrupted') this.turnLatencies.push(latency);
    }
    if (heard && !(reason === 'call-ended' && t.kind === 'goodbye')) {
      this.record({ role: 'bot', text: heard, ts: this.iso(t.startedAt), interrupted: true, ...(latency && reason === 'interrupted' ? { latency } : {}) });
      if (reason === 'interrupted' && (t.kind === 'agent' || t.kind === 'resume')) pushMessage(this.history, { role: 'assistant', content: heard });
    }
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
          this.speak(this.phrases.transferFailed, 'notice', true);
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

  // ---------- silence and limits ----------

  private enterListening(): void {
    if (this.ended || this.turn) return;
    this.setState('listening');
    const now = this.clock.now();
    this.silenceSince ??= now;
    const hangAt = this.silenceSince + this.o.limits.silenceHangupSec * 1000;
    if (hangAt <= now) return this.wrapUp('silence', this.phrases.silenceGoodbye);
    const repromptAt = now + this.o.limits.silenceRepromptSec * 1000;
    this.timers.clear('silence-reprompt');
    if (repromptAt < hangAt) this.timers.set('silence-reprompt', repromptAt - now, () => this.onSilence('reprompt'));
    this.timers.set('silence-hangup', hangAt - now, () => this.onSilence('hangup'));
  }

  private onSilence(what: 'reprompt' | 'hangup'): void {
    if (this.ended || this.turn || this.timers.has('resume')) return;
    // The caller is mid-sentence: look again shortly.
    if (this.tracker.hasWords || this.tracker.inSpeech) {
      this.timers.set(what === 'hangup' ? 'silence-hangup' : 'silence-reprompt', 1000, () => this.onSilence(what));
      return;
    }
    if (what === 'hangup') this.wrapUp('silence', this.phrases.silenceGoodbye);
    else this.speak(this.phrases.reprompt, 'reprompt', true);
  }

  /** Polite end: stop whatever is happening, say goodbye (not interruptible), hang up. */
  private wrapUp(reason: string, goodbye: string, status: 'completed' | 'failed' = 'completed'): void {
    if (this.ended || this.endRequested) return;
    this.endRequested = { reason, status };
    this.cutTurn = null;
    this.timers.clear('resume', 'barge-in', 'end-of-turn', 'silence-reprompt', 'silence-hangup');
    if (this.turn) this.stopTurn(this.turn, 'wrap-up');
    this.setState('wrapping-up');
    if (this.tts) this.speak(goodbye, 'goodbye', false);
    else void this.finish(this.endRequested);
  }

  private failCall(provider: 'stt' | 'llm' | 'tts', canSpeak = provider !== 'tts'): void {
    if (this.ended) return;
    const reason = `provider_failure: ${provider}`;
    if (canSpeak && this.tts) this.wrapUp(reason, this.phrases.apology, 'failed');
    else void this.finish({ reason, status: 'failed' });
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

  // ---------- end ----------

  private async finish(req: EndRequest, hangUp = true): Promise<void> {
    if (this.ended) return this.endedPromise;
    this.setState('ended');
    this.endReason = req.reason;
    this.timers.clearAll();
    this.cutTurn = null;
    if (this.turn) this.stopTurn(this.turn, 'call-ended');
    this.callAbort.abort();
    const closing: Promise<unknown>[] = [this.stt.close()];
    if (this.voice) closing.push(this.voice.close());
    if (this.tts) closing.push(this.tts.close());
    if (hangUp) closing.push(this.o.transport.hangup(req.reason));
    await Promise.race([Promise.allSettled(closing), new Promise((r) => this.clock.setTimeout(() => r(null), 2000))]);
    await this.o.recorder.end({ status: req.status, reason: req.reason }).catch(() => {});
    this.resolveEnded();
  }

  // ---------- helpers ----------

  /** The wire knows four states: greeting and wrapping-up are speaking, a pause is listening. */
  private setState(next: CallState): void {
    if (this.state === 'ended' || (this.state === next && next !== 'listening')) return;
    const wire = (s: CallState): 'listening' | 'thinking' | 'speaking' | 'ended' =>
      s === 'greeting' || s === 'wrapping-up' ? 'speaking' : s === 'paused' ? 'listening' : s;
    const changed = wire(this.state) !== wire(next);
    this.state = next;
    if (changed || next === 'listening') this.o.transport.notify({ type: 'state', state: wire(next) });
  }

  private record(turn: TranscriptTurn): void {
    this.o.recorder.appendTurn(turn).catch((err: unknown) => this.o.log.error({ err: errText(err) }, 'recording a turn failed'));
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
