/**
 * One call, conducted. The caller's audio (caller-input.ts) goes to the recognizer, a VAD and the end-of-turn
 * model's ear; turn-taking.ts says when the caller is done; barge-in.ts decides what the caller's voice over the
 * bot means; agent-turn.ts answers; each bot turn being spoken is a SpeakingTurn (speaking-turn.ts) over a paced
 * Playback (playback.ts) on the call's voice (tts-line.ts). A recognizer or voice that fails is reconnected
 * within one time budget (reconnect-budget.ts). This file holds the call's state (call-state.ts), owns its
 * timers (timers.ts), watches the caller's silence (silence-watch.ts) and records the transcript.
 */
import { isAccountFailure, isRetryable } from '../errors.js';
import { splitSentences } from '../knowledge/sentences.js';
import type { Language, SttEvent, TtsSession } from '../providers/types.js';
import { LIVE_ANSWER_MAX_TOKENS, LlmFailure, runAgentTurn, speakToolSay, splitForSpeech } from './agent-turn.js';
import { providerSessionOptions, type ProviderSessionOptions } from './provider-sessions.js';
import { RECONNECT_BUDGET_MS } from './reconnect-budget.js';
import { safeSpeechContextFor } from './safe-speech-context.js';
import { speakableText, type SafeSpeechContext } from '../safety/safe-speech.js';
import { BargeIn, type BargeInMetric } from './barge-in.js';
import { isAcknowledgement, isClosingWords } from './closing-words.js';
import { CallStateMachine, type CallState } from './call-state.js';
import { CallerInput } from './caller-input.js';
import type { VoiceEvent } from './caller-voice.js';
import { KeypadEntry } from './keypad.js';
import { TypedInputPacer } from './typed-input.js';
import { answerLatency, Conversation, errText } from './conversation.js';
import { HistoryWindow } from './history-window.js';
import { MarkEchoes, TTS_FIRST_AUDIO_MS, TtsFailure, type PlaybackTiming } from './playback.js';
import { SESSION_PHRASES } from './session-phrases.js';
import type { CallSessionOptions } from './session-options.js';
import { SilenceWatch } from './silence-watch.js';
import { SpeakingTurn, type BotTurnKind, type StopReason } from './speaking-turn.js';
import type { TurnRest, UnheardSay } from './tool-rounds.js';
import { CallTimers } from './timers.js';
import { TtsLine } from './tts-line.js';
import type { CallControl } from './tool-types.js';
import { CallerTurnTracker, type CallerUtterance } from './turn-taking.js';
import type { CallEndReason } from './end-reasons.js';
import { systemClock, type Clock, type TurnLatency } from './types.js';

export type { CallSessionOptions } from './session-options.js';
export type { CallState } from './call-state.js';
export type { BargeInMetric } from './barge-in.js';

interface EndRequest {
  reason: CallEndReason;
  status: 'completed' | 'failed';
  /** The model's (end_call): a caller who speaks over its goodbye takes it back (withdrawHandOff). */
  byModel?: true;
}

/**
 * A wrap-up always ends the call, whether or not its goodbye can be heard (a voice that does not answer, a caller
 * whose side never takes the audio). The goodbye must have started playing this long after the wrap-up…
 */
export const GOODBYE_START_MS = 5000;
/** …and then may play out its audio, plus this margin (a client that never echoes marks is paced 3 s late)… */
export const GOODBYE_MARGIN_MS = 4000;
/** …but the call ends this long after the wrap-up at the latest (Twilio's own hard stop is 60 s past the limit). */
export const WRAP_UP_MAX_MS = 30_000;

/** The least time a retried phrase gets for its first audio (a fresh TTS connection and its first chunk). */
const RETRY_FIRST_AUDIO_MIN_MS = 1500;
/**
 * A phrase the voice failed on this many times (each failing its turn) is given up: left unsaid, and the rest said
 * without it. A voice that fails on one phrase every time would otherwise say the rest from the phrase playing
 * before it, fail on it again, and loop for as long as the caller stays.
 */
const PHRASE_TRIES = 2;
/**
 * How long a call the caller hung up mid-sentence waits for the recognizer's last words. The local recognizer
 * decodes a few seconds of speech in a few hundred ms; Deepgram answers a Finalize in about as long.
 */
export const LAST_WORDS_WAIT_MS = 1500;
/** The start of the system turn stored when the recognizer comes back after an outage. */
export const STT_GAP_NOTE = 'Speech recognition was interrupted';

export class CallSession {
  private readonly clock: Clock;
  private readonly phrases: (typeof SESSION_PHRASES)[Language];
  private readonly tracker: CallerTurnTracker;
  private readonly timers: CallTimers;
  private readonly said: Conversation;
  /** The question the bot's last completed answer ended on (repeated by the silence re-prompt), if any. */
  private lastQuestion: string | null = null;
  /** The options its STT and TTS sessions open with (the same function builds the prewarmed ones). */
  private readonly sessionOptions: ProviderSessionOptions;
  private readonly keypad: KeypadEntry;
  private readonly typed: TypedInputPacer;
  /** What the safe-speech check knows of this call: the bot's secret prompt, blocklist, caller, known prices. */
  private readonly safeSpeech: SafeSpeechContext;
  private readonly callAbort = new AbortController();
  /** The caller's audio: to the recognizer, the VAD and the end-of-turn model's ear. */
  private readonly input: CallerInput;
  private readonly ttsLine: TtsLine;
  /** The TTS session to speak with; null before it opens and while it is being reopened. */
  private tts: TtsSession | null = null;
  private turn: SpeakingTurn | null = null;
  private readonly bargeIn: BargeIn;
  private turnSeq = 0;
  private endRequested: EndRequest | null = null;
  private pendingTransfer: { to: string; reason: string } | null = null;
  private readonly silence: SilenceWatch;
  private readonly machine: CallStateMachine;
  private resolveEnded!: () => void;
  private readonly endedPromise = new Promise<void>((r) => (this.resolveEnded = r));
  private readonly control: CallControl;
  /** What of the conversation each LLM request carries (bounded on long calls). */
  private readonly historyWindow: HistoryWindow;
  /** The wrap-up's hard stop (see GOODBYE_START_MS): armed once, cleared when the call ends. */
  private hardStop: unknown = null;
  private wrapUpAt = 0;
  /**
   * When the voice first failed without speaking since (null: it spoke). A session that stays open but never
   * answers looks stable to the reconnect budget, so this bounds the failures of a voice that never speaks.
   */
  private ttsSilentSince: number | null = null;
  /** How often the voice failed on each phrase (by its text) since a turn last played out: PHRASE_TRIES gives it up. */
  private readonly phraseFailures = new Map<string, number>();
  /**
   * Phrases whose audio was made before the voice failed, said again with the rest: hearing them (a phrase cache
   * replays them) proves nothing about the voice, so it has not recovered until other audio plays whole.
   */
  private readonly sayingAgain = new Set<string>();
  /** Bot turns in a row of which nothing could be said (every phrase refused or given up): two, and the voice is lost. */
  private turnsUnsaid = 0;
  /** The caller has heard a phrase of the bot's since their last turn (else an answer that said nothing owes one). */
  private answerHeard = false;
  /** start() is waiting for the voice to open. */
  private opening = false;
  /** end() was asked while the voice was opening: said goodbye (not the greeting) once it is open. */
  private endOnOpen: CallEndReason | null = null;
  /** Whether this call's client echoes marks, learnt by its first turns (Playback paces a client that does not by the clock). */
  private readonly markEchoes = new MarkEchoes();

  get state(): CallState {
    return this.machine.state;
  }
  /** Latency of each agent answer (completed or interrupted), in order. */
  get turnLatencies(): TurnLatency[] {
    return this.said.turnLatencies;
  }
  get bargeIns(): BargeInMetric[] {
    return this.bargeIn.metrics;
  }
  endReason: CallEndReason | null = null;

  constructor(private readonly o: CallSessionOptions) {
    this.clock = o.clock ?? systemClock;
    this.phrases = SESSION_PHRASES[o.language] ?? SESSION_PHRASES.en;
    this.tracker = new CallerTurnTracker(o.limits, this.clock, o.language, o.endOfTurn, (endAt) => this.input.prosodyEndingAt(endAt));
    this.timers = new CallTimers(this.clock);
    this.said = new Conversation(o.recorder, o.transport, o.log, this.clock);
    this.historyWindow = new HistoryWindow(o.limits.llmHistoryChars);
    this.sessionOptions = providerSessionOptions(
      { language: o.language, voice: o.voice, sttModel: o.sttModel, ttsModel: o.ttsModel, keyterms: o.keyterms },
      { input: o.transport.inputFormat, output: o.transport.outputFormat },
    );
    this.safeSpeech = safeSpeechContextFor(o.context);
    this.bargeIn = new BargeIn({
      tracker: this.tracker,
      timers: this.timers,
      clock: this.clock,
      limits: o.limits,
      resumeWindowMs: o.resumeWindowMs,
      host: {
        turn: () => this.turn,
        ended: () => this.ended,
        stateChanged: (state) => this.setState(state),
        stopTurn: (t, reason, addLatency) => this.stopTurn(t, reason, addLatency),
        sayRestOf: (cut) => this.sayRestOf(cut, 'resume'),
        enterListening: () => this.enterListening(),
      },
    });
    this.input = new CallerInput({
      format: o.transport.inputFormat,
      clock: this.clock,
      log: o.log,
      stt: o.stt,
      sttOptions: this.sessionOptions.stt,
      signal: this.callAbort.signal,
      callerVoice: o.callerVoice,
      tracker: () => this.tracker,
      onVoice: (e) => this.onVoice(e),
      onStt: (ev) => this.onSttEvent(ev),
      onSttLost: () => this.failCall('stt'),
      onSttFailure: (reconnecting, err) => o.onProviderFailure?.('stt', reconnecting, err),
      // Whoever reads the transcript later learns the caller spoke to a recognizer that was out (words held
      // meanwhile are heard by the new one, but what the lost one had not answered for may be missing).
      onSttRecovered: (ms) => this.said.note(`${STT_GAP_NOTE} for ${(ms / 1000).toFixed(1)} s and reconnected.`),
    });
    this.ttsLine = new TtsLine({
      provider: o.tts,
      open: this.sessionOptions.tts,
      clock: this.clock,
      signal: this.callAbort.signal,
      onFailure: (err, leftMs) => {
        this.o.log.error({ err: errText(err), leftMs }, 'TTS failed');
        this.o.onProviderFailure?.('tts', leftMs > 0, err);
      },
    });
    this.typed = new TypedInputPacer(this.clock, this.timers, (text) => this.callerTyped(text));
    this.keypad = new KeypadEntry(this.timers, (text) => this.typed.push(text));
    this.machine = new CallStateMachine(o.transport);
    this.silence = new SilenceWatch(o.limits, this.timers, this.tracker, this.clock, {
      busy: () => this.ended || this.turn !== null,
      // "Are you still there?" and the question the caller has not answered yet, if the bot's last words asked one.
      reprompt: () => this.speak(this.lastQuestion ? `${this.phrases.reprompt} ${this.lastQuestion}` : this.phrases.reprompt, 'reprompt', true),
      hangUp: () => this.wrapUp('silence', this.phrases.silenceGoodbye),
    });
    this.control = {
      // The model's goodbye or hand-off stays interruptible: the model may be wrong that the caller is done.
      endCall: (reason) => {
        this.endRequested ??= { reason: `bot_end_call: ${reason}`, status: 'completed', byModel: true };
      },
      transferCall: async (to, reason) => {
        this.pendingTransfer = { to, reason };
        this.said.system(`Transfer to ${to} requested: ${reason}`);
      },
    };
  }

  private get ended(): boolean {
    return this.state === 'ended';
  }

  /**
   * The greeting is spoken without the LLM, so the prompt tells it what was said (the history starts with the
   * caller). Built once per call: a new copy of a ~2 KB prompt per turn lived as long as the LLM request.
   */
  private builtSystemPrompt: string | null = null;
  private get systemPrompt(): string {
    if (this.builtSystemPrompt === null) {
      const greeting = this.o.greeting ?? this.o.context.bot.config.greeting;
      this.builtSystemPrompt = greeting ? `${this.o.systemPrompt}\n\nYou opened the call by saying: "${greeting}"`.trim() : this.o.systemPrompt;
    }
    return this.builtSystemPrompt;
  }

  /** Runs the call; resolves when it has ended and the end is recorded. */
  async start(): Promise<void> {
    const { transport, recorder } = this.o;
    void recorder.start();
    transport.attach({
      onAudio: (frame) => this.input.push(frame),
      onDtmf: (digit) => this.keyed(digit),
      onText: (text) => {
        if (!this.ended && text.trim()) this.typed.push(text);
      },
      onMark: (name) => this.turn?.playback.onMark(name),
      onClose: (reason, end) => void this.finish(end ? { reason: end, status: 'failed' } : { reason: `caller_hangup: ${reason}`, status: 'completed' }, false),
    });
    this.timers.set('max-length', this.o.limits.maxCallSec * 1000, () => this.wrapUp('max_duration', this.phrases.maxDurationGoodbye));
    this.input.start();
    this.opening = true;
    this.tts = await this.ttsLine.connect();
    this.opening = false;
    // The caller may have hung up while the session was opening (connect() then closed what it opened).
    if (this.ended) return this.endedPromise;
    if (!this.tts) {
      void this.finish(this.endOnOpen ? { reason: this.endOnOpen, status: 'completed' } : { reason: 'provider_failure: tts', status: 'failed' });
      return this.endedPromise;
    }
    // Asked to end while the voice was opening (a server shutting down as the call arrived): the goodbye, not the greeting.
    if (this.endOnOpen) {
      this.wrapUp(this.endOnOpen, this.phrases.shutdownGoodbye);
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
  async end(reason: CallEndReason, options: { immediate?: boolean } = {}): Promise<void> {
    if (!options.immediate && !this.tts && this.opening) {
      this.endOnOpen ??= reason;
      return this.endedPromise;
    }
    if (options.immediate || !this.tts) await this.finish({ reason, status: 'completed' });
    else this.wrapUp(reason, this.phrases.shutdownGoodbye);
    return this.endedPromise;
  }

  // ---------- the caller: voice, words, end of turn ----------

  private onVoice(ev: VoiceEvent): void {
    if (this.ended) return;
    this.tracker.voice(ev);
    if (ev.type === 'onset') {
      this.bargeIn.onOnset(ev.at);
    } else {
      // Ask the recognizer for its final now rather than after its own endpointing.
      this.input.finalize();
      this.bargeIn.afterCallerQuiet();
    }
    this.checkEndOfTurn();
  }

  private onSttEvent(ev: SttEvent): void {
    // The call is ending and waits for the recognizer's last words (finish): they are taken, nothing is answered.
    if (this.lastWordsWaiter) {
      this.tracker.handle(ev);
      if (ev.type === 'final' || ev.type === 'utterance_end' || ev.type === 'unheard') this.lastWordsWaiter();
      return;
    }
    const wordsBefore = this.tracker.wordEvents;
    this.tracker.handle(ev);
    if (this.tracker.wordEvents !== wordsBefore) {
      // New words: the caller is talking (so no silence, and an interruption after a cut was real).
      this.silence.reset();
      this.bargeIn.onWords();
      if (this.tracker.hasWords) this.o.transport.notify({ type: 'transcript', role: 'caller', text: this.tracker.pendingText, final: false });
    }
    // The recognizer's own speech start stands in for a VAD the call does not have (or that missed it).
    if (ev.type === 'speech_started' && !this.tracker.inSpeech) this.bargeIn.pause(this.clock.now());
    this.bargeIn.check();
    // The recognizer's verdict on a pause comes first: the end-of-turn check forgets a burst without words.
    if (ev.type === 'final' || ev.type === 'utterance_end' || ev.type === 'unheard') this.bargeIn.afterCallerQuiet();
    this.checkEndOfTurn();
    if (ev.type === 'unheard') this.askToRepeat();
  }

  /**
   * The caller spoke and the recognizer could not make out a word of it: asked to say it again rather than left in
   * silence. Not over the bot (an unheard interruption is no turn), nor when the turn has words of its own (it
   * closes on them).
   */
  private askToRepeat(): void {
    if (this.ended || this.turn || this.tracker.hasWords) return;
    this.speak(this.phrases.notCaught, 'notice', true);
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
    // Over the goodbye (the one turn that cannot be interrupted: the call is ending) the caller's words are not
    // answered, but they were said: stored like the words of a turn a hang-up cut.
    if (this.turn && !this.turn.interruptible) return this.said.callerLastWords(u.text, u.speechStartedAt);
    // While the bot talks, only speech that passes the barge-in bar is a turn; backchannels are dropped.
    if (this.turn && !this.bargeIn.utteranceOverBot(this.turn, u)) return;
    this.callerTurn(u.text, u);
  }

  /** Keypad digits: the first one interrupts the bot at once (deliberate input); keypad.ts makes them one turn. */
  private keyed(digit: string): void {
    if (this.ended) return;
    if (this.turn?.interruptible) this.bargeIn.commit(this.turn);
    this.keypad.key(digit);
  }

  /** DTMF and typed text are deliberate: they interrupt the bot at once. */
  private callerTyped(text: string): void {
    if (this.ended || !text.trim()) return;
    if (this.turn) {
      if (!this.turn.interruptible) return this.said.callerLastWords(text.trim(), this.clock.now());
      this.bargeIn.commit(this.turn);
    }
    this.callerTurn(text.trim(), null);
  }

  private callerTurn(text: string, u: CallerUtterance | null): void {
    this.bargeIn.forget();
    this.timers.clear('resume', 'silence-reprompt', 'silence-hangup');
    if (this.handOffAnswered(text, u)) return;
    this.withdrawHandOff();
    this.answerHeard = false;
    this.silence.reset();
    this.recordCallerWords(text, u);
    this.startAgentTurn(text, u);
  }

  private recordCallerWords(text: string, u: CallerUtterance | null): void {
    this.said.caller(text, u?.speechStartedAt ?? u?.closedAt ?? null, u ? { score: Math.round(u.score * 100) / 100, rule: u.rule } : undefined);
  }

  /**
   * Words that only answer the model's goodbye ("bye", "thanks") or hand-off ("okay, thanks") — closing-words.ts:
   * stored, and the end or the transfer goes ahead — the caller is not asked to say goodbye twice.
   */
  private handOffAnswered(text: string, u: CallerUtterance | null): boolean {
    const end = this.endRequested?.byModel ? this.endRequested : null;
    const answered = end ? isClosingWords(text) : this.pendingTransfer !== null && isAcknowledgement(text);
    if (!answered) return false;
    this.recordCallerWords(text, u);
    if (end) void this.finish(end);
    else this.afterSpeech('agent');
    return true;
  }

  /**
   * The caller spoke over the model's goodbye or hand-off (end_call, transfer_call) — words past the barge-in bar,
   * or typed — so they are not done: the call goes on, the model answers them (and may end or transfer again once
   * it has). The call's own ends (silence, shutdown, a failure, the maximum duration) are not taken back: their
   * goodbye cannot be interrupted.
   */
  private withdrawHandOff(): void {
    if (this.endRequested?.byModel) {
      this.endRequested = null;
      this.said.system('End of call withdrawn: the caller spoke over the goodbye');
    }
    if (this.pendingTransfer) {
      this.pendingTransfer = null;
      this.said.system('Transfer withdrawn: the caller spoke over it');
    }
  }

  // ---------- bot turns ----------

  private newTurn(kind: BotTurnKind, interruptible: boolean, latency: TurnLatency | null, startedAt = this.clock.now()): SpeakingTurn {
    const turn = new SpeakingTurn(++this.turnSeq, kind, interruptible, latency, startedAt, this.o.transport, {
      tts: this.tts as TtsSession,
      clock: this.clock,
      markEchoes: this.markEchoes,
      // After a voice that failed without a word, the retry has what is left of the reconnect budget to speak:
      // a voice that accepts text and never answers ends the call at about 6 + 5 s, not after a second 6 s wait.
      ...(this.ttsSilentSince !== null
        ? { firstAudioMs: Math.min(TTS_FIRST_AUDIO_MS, Math.max(RETRY_FIRST_AUDIO_MIN_MS, RECONNECT_BUDGET_MS - (this.clock.now() - this.ttsSilentSince))) }
        : {}),
      ...(this.o.maxLeadMs !== undefined ? { maxLeadMs: this.o.maxLeadMs } : {}),
      onFirstAudio: (timing) => this.onFirstAudio(turn, timing),
      onPhraseHeard: (text) => this.phraseHeard(text),
      onRefused: (text, err) => this.phraseRefused(text, err),
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

  /**
   * A phrase played whole. Unless it is one made before the voice failed and sent again, the voice works: the next
   * failure gets a fresh reconnect budget (ReconnectBudget still backs off one that comes within STABLE_MS).
   */
  private phraseHeard(text: string): void {
    this.answerHeard = true;
    this.turnsUnsaid = 0;
    if (this.sayingAgain.has(text)) return;
    this.sayingAgain.clear();
    this.ttsLine.recovered();
    this.ttsSilentSince = null;
  }

  /** The voice refused a phrase (playback.ts skipped it, on the same session): logged and counted, the turn goes on. */
  private phraseRefused(text: string, err: unknown): void {
    this.o.log.warn({ err: errText(err), chars: text.length }, 'TTS refused a phrase: left unsaid');
    this.o.onProviderFailure?.('tts', false);
  }

  private startAgentTurn(text: string, u: CallerUtterance | null): void {
    if (!this.tts) return;
    const base = u?.speechEndedAt ?? u?.closedAt ?? this.clock.now();
    const latency = answerLatency(u, base);
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
          history: this.said.history,
          historyWindow: this.historyWindow,
          userText: text,
          retrieveContext: this.o.retrieveContext,
          playback: turn.playback,
          toolRounds: turn.toolRounds,
          signal: turn.signal,
          clock: this.clock,
          maxToolRounds: this.o.maxToolRounds,
          onRetrieval: (ms) => (latency.retrievalMs = ms),
          onFirstToken: () => (latency.llmFirstTokenMs = this.clock.now() - base),
          safeSpeech: this.safeSpeech,
        });
        if (result.unsafe.length) turn.safety = result.unsafe;
        // Once per turn: a model that keeps hitting the bound (rambling, or a reasoning model thinking it away) is
        // worth knowing about; the caller heard the whole phrases before the cut, or the no-answer line below.
        if (result.cutAtTokenLimit) this.o.log.warn({ maxTokens: LIVE_ANSWER_MAX_TOKENS, spokenChars: result.text.length }, 'answer cut at the token limit');
        // An answer that said nothing (its tool rounds used up on garbled calls, an empty reply) would leave the
        // caller in silence until the re-prompt: they are told, and asked again. Not when the bot is ending or
        // handing over the call (end_call, transfer): that is its answer.
        let said = result.text;
        let finalText = result.finalText;
        if (!said.trim() && !turn.signal.aborted && !this.endRequested && !this.pendingTransfer) {
          said = finalText = this.phrases.noAnswer;
          for (const phrase of splitForSpeech(said)) turn.playback.say(phrase);
        }
        turn.playback.finish();
        const outcome = await turn.playback.done;
        if (outcome === 'played' && this.turn === turn) {
          // Phrases the voice could not say are not in what was said (nor in the words of the tool rounds).
          if (turn.playback.unsaid.length) {
            said = turn.playback.heardText();
            finalText = finalText && turn.playback.heardText(turn.toolRounds.phrasesInHistory);
          }
          if (finalText) this.said.assistant(finalText);
          this.completeTurn(turn, said);
        }
      } catch (err) {
        if (!turn.active || this.ended) return;
        if (err instanceof LlmFailure) {
          this.o.log.error({ err: errText(err) }, 'agent turn failed');
          this.o.onProviderFailure?.('llm', false, err);
          // Words of an earlier round (said before a tool call) may still be playing: stop them, keeping what was
          // heard, before the apology.
          this.stopTurn(turn, 'wrap-up');
          return this.failCall('llm');
        }
        void this.ttsFailed(turn, err);
      }
    })();
  }

  /**
   * Speaks fixed text (greeting, re-prompt, goodbye…) without the LLM; then `says`, tool says a cut turn left
   * unheard, recorded with this turn's tool rounds so that their results read as told once heard.
   */
  private speak(text: string, kind: BotTurnKind, interruptible: boolean, says: readonly UnheardSay[] = []): void {
    if (!this.tts || this.ended) return;
    const turn = this.newTurn(kind, interruptible, null);
    if (kind !== 'goodbye') this.setState(kind === 'greeting' ? 'greeting' : 'thinking');
    for (const phrase of splitForSpeech(text)) turn.playback.say(phrase);
    for (const say of says) speakToolSay(say, turn.playback, turn.toolRounds);
    turn.playback.finish();
    // The transcript keeps what the voice was given: the text without the formatting splitForSpeech took out.
    const planned = [text, ...says.map((say) => say.text)].map(speakableText).filter((t) => t.trim()).join(' ');
    void turn.playback.done.then(
      (outcome) => {
        if (outcome !== 'played' || this.turn !== turn) return;
        const said = turn.playback.unsaid.length ? turn.playback.heardText() : planned;
        if (kind === 'resume' && said) this.said.assistant(said);
        this.completeTurn(turn, said);
      },
      (err: unknown) => {
        if (turn.active && !this.ended) void this.ttsFailed(turn, err);
      },
    );
  }

  private completeTurn(turn: SpeakingTurn, text: string): void {
    this.turn = null;
    this.phraseFailures.clear();
    // A turn that left phrases unsaid keeps, in its tool rounds too, only what was heard.
    if (turn.playback.unsaid.length) turn.toolRounds.settle(turn.playback, 'whole phrases');
    else turn.toolRounds.playedOut(turn.playback);
    if (turn.kind === 'agent' || turn.kind === 'greeting' || turn.kind === 'resume') this.lastQuestion = lastQuestionOf(text);
    this.timers.clear('barge-in');
    this.said.botCompleted(turn, text);
    if (!text && turn.playback.unsaid.length) return this.nothingSaid(turn.kind);
    this.afterSpeech(turn.kind);
  }

  /**
   * Nothing of a bot turn could be said: the voice refused, or the call gave up, every phrase of it. An answer the
   * caller has heard nothing of says the no-answer line instead (they are not left in silence); a second such turn
   * in a row means the voice says nothing at all, and the call ends.
   */
  private nothingSaid(kind: BotTurnKind): void {
    if (++this.turnsUnsaid >= 2) return this.voiceLost(new Error('the voice said nothing of two turns in a row'));
    const owesAnswer = (kind === 'agent' || kind === 'resume') && !this.answerHeard && !this.endRequested && !this.pendingTransfer;
    if (owesAnswer) this.speak(this.phrases.noAnswer, 'resume', true);
    else this.afterSpeech(kind);
  }

  /** The voice cannot speak: the call ends (there is no voice to apologise with); what was said is stored. */
  private voiceLost(err: unknown, detail: Record<string, unknown> = {}): void {
    this.o.log.error({ err: errText(err), ...detail }, 'TTS failed');
    this.o.onProviderFailure?.('tts', false, err);
    void this.finish(this.endRequested ?? { reason: 'provider_failure: tts', status: 'failed' });
  }

  /**
   * The one way a turn ends early (interruption, wrap-up, end of call): stop it, then keep what the caller
   * heard — in the transcript (flagged interrupted) and, for answers, in the conversation.
   */
  private stopTurn(t: SpeakingTurn, reason: StopReason, addLatency?: (l: TurnLatency) => void): void {
    const heard = t.stop(reason);
    if (this.turn === t) this.turn = null;
    this.timers.clear('barge-in');
    this.said.botStopped(t, reason, heard, addLatency);
  }

  /**
   * The voice failed mid-turn: keep what was heard, reopen TTS within the reconnect budget and say the rest
   * (a goodbye is said again); when the budget is spent the call cannot speak, so it ends. The phrase it failed on
   * is counted: one that failed PHRASE_TRIES times is given up — left unsaid, the rest said without it. A failure
   * no retry can mend (a 4xx for the phrase, after some of its audio) gives it up at once and keeps the session:
   * the voice works, it refused that phrase. An account refusal (401/402/403) is not the phrase's: it takes the
   * reopen path, which gives the voice up at once (TtsLine: not retryable) and ends the call.
   */
  private async ttsFailed(turn: SpeakingTurn, err: unknown): Promise<void> {
    this.stopTurn(turn, 'tts-failed');
    const refused = !isRetryable(err) && !isAccountFailure(err);
    this.countPhraseFailure(turn, err, refused);
    for (const text of turn.playback.synthesised) this.sayingAgain.add(text);
    if (refused) this.phraseRefused(err instanceof TtsFailure ? (err.phrase ?? '') : '', err);
    else if (!(await this.reopenVoice(err))) return;
    if (this.turn) return; // a turn the caller started meanwhile has been answered
    // A say of the turn's tools still running is part of its rest (barge-in waits the same way).
    await turn.toolRounds.toolsDone;
    if (this.ended || this.turn) return;
    if (this.sayRestOf(turn, turn.kind === 'agent' ? 'resume' : turn.kind)) return;
    // Nothing was left to say, so the new session is not tried now: its first failure starts a streak of its own.
    this.ttsSilentSince = null;
    if (turn.playback.unsaid.length) this.nothingSaid(turn.kind);
    else this.afterSpeech(turn.kind);
  }

  /** The voice failed on phrase TtsFailure.phrase of `turn`: counted, and given up (in `turn`) at PHRASE_TRIES. */
  private countPhraseFailure(turn: SpeakingTurn, err: unknown, refused: boolean): void {
    const phrase = err instanceof TtsFailure ? err.phrase : null;
    if (phrase === null) return;
    const failures = refused ? PHRASE_TRIES : (this.phraseFailures.get(phrase) ?? 0) + 1;
    this.phraseFailures.set(phrase, failures);
    if (failures >= PHRASE_TRIES) turn.playback.giveUp(phrase);
  }

  /**
   * Reopens the voice after `err` within the reconnect budget; false (the call ending) when it cannot. A voice that
   * stays silent (no answer, not an error) is lost by the budget even when it is silent on one phrase only: at that
   * point the two look the same, and a caller is not kept waiting past the budget.
   */
  private async reopenVoice(err: unknown): Promise<boolean> {
    this.tts = null;
    // A voice that has said nothing through a whole reconnect budget of failures (one that opens but never
    // answers, which the budget would take for a stable session) is given up like one that will not open.
    const now = this.clock.now();
    this.ttsSilentSince ??= now;
    if (now - this.ttsSilentSince >= RECONNECT_BUDGET_MS) {
      this.voiceLost(err, { silentMs: now - this.ttsSilentSince });
      return false;
    }
    const session = await this.ttsLine.connect(err);
    if (this.ended) return false;
    if (!session) {
      void this.finish(this.endRequested ?? { reason: 'provider_failure: tts', status: 'failed' });
      return false;
    }
    this.tts = session;
    return true;
  }

  /**
   * Says what the caller did not hear of a turn that was cut (its voice failed, or an interruption brought no
   * words), as turn `kind`; false when nothing was left. Phrases heard whole are not said again. The phrase that
   * was playing is said again from its start: a voice cannot start mid-phrase, and its unheard words may be the
   * ones that matter ("A haircut costs forty…" — dollars). The cut turn's record then keeps only the phrases heard
   * whole, so the transcript and the history hold each phrase once. A goodbye is said again whole.
   */
  private sayRestOf(cut: SpeakingTurn, kind: BotTurnKind): boolean {
    if (!this.tts || this.ended) return false;
    const rest = restOf(cut);
    if (!rest) return false;
    this.said.restSaid(cut, cut.kind === 'goodbye' ? 'turn start' : 'cut phrase');
    this.speak(rest.words, kind, cut.interruptible, rest.says);
    return true;
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
          this.said.system('Transfer failed');
          if (this.ended) return;
          // The caller may have started a turn while on hold: the notice replaces it (what was heard is kept).
          if (this.turn) this.stopTurn(this.turn, 'interrupted');
          this.speak(this.phrases.transferFailed, 'notice', true);
        },
      );
      return;
    }
    if (this.endRequested) {
      void this.finish(this.endRequested);
      return;
    }
    if (kind !== 'reprompt') this.silence.reset();
    this.enterListening();
  }

  private enterListening(): void {
    if (this.ended || this.turn) return;
    this.setState('listening');
    this.silence.listen();
  }

  // ---------- the end ----------

  /**
   * Polite end: stop whatever is happening, say goodbye (not interruptible), hang up — by the hard stop at the
   * latest. An end already on its way (a goodbye, the bot's last words) is given the hard stop too.
   */
  private wrapUp(reason: CallEndReason, goodbye: string, status: 'completed' | 'failed' = 'completed'): void {
    if (this.ended) return;
    this.armHardStop();
    if (this.endRequested) {
      // The model's end, under way, becomes the call's own: nothing the caller says takes it back now.
      delete this.endRequested.byModel;
      return;
    }
    this.endRequested = { reason, status };
    this.bargeIn.forget();
    this.timers.clear('resume', 'barge-in', 'end-of-turn', 'silence-reprompt', 'silence-hangup');
    if (this.turn) this.stopTurn(this.turn, 'wrap-up');
    this.setState('wrapping-up');
    if (this.tts) this.speak(goodbye, 'goodbye', false);
    else void this.finish(this.endRequested);
  }

  private armHardStop(): void {
    if (this.hardStop !== null) return;
    this.wrapUpAt = this.clock.now();
    this.hardStop = this.clock.setTimeout(this.checkHardStop, GOODBYE_START_MS);
  }

  /** A goodbye that has started playing may finish; one that has not (or has played out its time) is cut. */
  private readonly checkHardStop = (): void => {
    this.hardStop = null;
    if (this.ended) return;
    const now = this.clock.now();
    const playback = this.turn?.playback;
    const sentAt = playback?.firstSentAt ?? null;
    const playedBy = playback && sentAt !== null ? sentAt + playback.audioMs + GOODBYE_MARGIN_MS : now;
    const until = Math.min(playedBy, this.wrapUpAt + WRAP_UP_MAX_MS);
    if (until > now) {
      this.hardStop = this.clock.setTimeout(this.checkHardStop, until - now);
      return;
    }
    const end = this.endRequested ?? { reason: 'max_duration', status: 'completed' as const };
    this.o.log.warn({ reason: end.reason, waitedMs: now - this.wrapUpAt, started: sentAt !== null }, 'goodbye did not play out: hanging up');
    void this.finish(end);
  };

  /** The recognizer or the LLM is gone for good: apologise and end (TTS failures: ttsFailed()). */
  private failCall(provider: 'stt' | 'llm'): void {
    if (this.ended) return;
    const reason = `provider_failure: ${provider}` as const;
    if (this.tts) this.wrapUp(reason, this.phrases.apology, 'failed');
    else void this.finish({ reason, status: 'failed' });
  }

  private async finish(req: EndRequest, hangUp = true): Promise<void> {
    if (this.ended) return this.endedPromise;
    this.setState('ended');
    this.endReason = req.reason;
    this.timers.clearAll();
    if (this.hardStop !== null) this.clock.clearTimeout(this.hardStop);
    this.hardStop = null;
    this.bargeIn.forget();
    if (this.turn) this.stopTurn(this.turn, 'call-ended');
    // A caller who hung up mid-sentence: a recognizer that decodes at the end of speech (the local one) has no words
    // for it yet, and Deepgram's last fraction of a second is still interim. Asked for its final, briefly.
    if (!hangUp && this.tracker.speechStartedAt !== null) await this.recognizerLastWords();
    // Words of a turn that never closed (the caller hung up mid-sentence, or before the end-of-turn wait was over)
    // are what they said last: stored like any turn, not dropped with the call.
    if (this.tracker.hasWords) this.said.callerLastWords(this.tracker.pendingText, this.tracker.speechStartedAt);
    this.said.flush();
    this.callAbort.abort();
    const closing: Promise<unknown>[] = [this.input.close(), this.ttsLine.close()];
    if (hangUp) closing.push(this.o.transport.hangup(req.reason));
    await Promise.race([Promise.allSettled(closing), new Promise((r) => this.clock.setTimeout(() => r(null), 2000))]);
    await this.o.recorder.end({ status: req.status, reason: req.reason }).catch(() => {});
    this.resolveEnded();
  }

  /** Set while finish() waits for the recognizer's final: resolves the wait. */
  private lastWordsWaiter: (() => void) | null = null;

  /** Asks the recognizer for what it has and waits for its final, LAST_WORDS_WAIT_MS at most. */
  private recognizerLastWords(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.clock.clearTimeout(timer);
        this.lastWordsWaiter = null;
        resolve();
      };
      const timer = this.clock.setTimeout(done, LAST_WORDS_WAIT_MS);
      this.lastWordsWaiter = done;
      this.input.finalize();
    });
  }

  private setState(next: CallState): void {
    this.machine.set(next);
  }
}

/**
 * What is left to say of cut turn `cut` (sayRestOf): a goodbye whole; otherwise its words not heard whole and its tool
 * says not heard whole, each with its result (SpokenToolRounds.rest). Never the phrases left unsaid. Null: nothing.
 */
function restOf(cut: SpeakingTurn): TurnRest | null {
  const rest = cut.kind === 'goodbye' ? { words: cut.playback.text, says: [] } : cut.toolRounds.rest(cut.playback);
  return rest.words.trim() || rest.says.length > 0 ? rest : null;
}

/** The last sentence of `text` that asks something ("…booked. Is there anything else I can help with?"). */
function lastQuestionOf(text: string): string | null {
  return splitSentences(text).findLast((s) => s.trim().endsWith('?'))?.trim() ?? null;
}
