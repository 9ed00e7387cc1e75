/**
 * What was said in a call, kept in three places at once: the stored transcript (one small write per turn, never
 * per frame), the client's live transcript notices, and the LLM's conversation history — plus the latency of
 * each answer. The session says what happened; this file says how each is recorded.
 */
import type { ChatMessage } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import type { CallRecorder } from './recorder.js';
import type { SpeakingTurn, StopReason } from './speaking-turn.js';
import type { StoppedTurnKept } from './tool-rounds.js';
import type { CallerUtterance } from './turn-taking.js';
import type { CallLogger, Clock, TranscriptTurn, TurnLatency } from './types.js';

interface StoppedTurn {
  turn: SpeakingTurn;
  reason: StopReason;
  /** What the caller heard, the start of the phrase cut short included ("…"). */
  heard: string;
  latency: TurnLatency | undefined;
}

export class Conversation {
  /** The LLM's view of the call (the greeting is in the system prompt). */
  readonly history: ChatMessage[] = [];
  /** Latency of each agent answer (completed or interrupted), in order. */
  readonly turnLatencies: TurnLatency[] = [];
  /** A stopped turn whose rest may yet be said (botStopped): not recorded yet. */
  private restMaySay: StoppedTurn | null = null;

  constructor(
    private readonly recorder: CallRecorder,
    private readonly transport: CallTransport,
    private readonly log: CallLogger,
    private readonly clock: Clock,
  ) {}

  /** The caller's turn (spoken, typed or keyed), beginning at `at`; `endOfTurn` for spoken turns. */
  caller(text: string, at: number | null, endOfTurn?: { score: number; rule: string }): void {
    this.record({ role: 'caller', text, ts: this.iso(at), ...(endOfTurn ? { endOfTurn } : {}) });
    this.transport.notify({ type: 'transcript', role: 'caller', text, final: true });
    pushMessage(this.history, { role: 'user', content: text });
  }

  /** The caller's words in a turn the call ended before closing: stored, nothing answers them. */
  callerLastWords(text: string, at: number | null): void {
    this.record({ role: 'caller', text, ts: this.iso(at) });
  }

  /** What the bot said, as the LLM should remember it (answers, and the rest of an answer read after a cut). */
  assistant(text: string): void {
    this.flush();
    pushMessage(this.history, { role: 'assistant', content: text });
  }

  /** A bot turn played to its end (`text`: what was said of it; its phrases left unsaid are recorded as such). */
  botCompleted(turn: SpeakingTurn, text: string): void {
    const unsaid = unsaidOf(turn);
    if (text || unsaid) {
      this.record({ role: 'bot', text, ts: this.iso(turn.startedAt), ...(turn.latency ? { latency: turn.latency } : {}), ...(turn.safety ? { safety: turn.safety } : {}), ...unsaid });
    }
    if (text) this.transport.notify({ type: 'transcript', role: 'bot', text, final: true });
    if (turn.latency) {
      this.turnLatencies.push(turn.latency);
      this.transport.notify({ type: 'turn_latency', turn: turn.id, latency: { ...turn.latency } });
    }
  }

  /**
   * A bot turn stopped early: keep what the caller heard, flagged interrupted, and for answers in the history.
   * The record of a turn an interruption or a failed voice cut waits until it is known whether its rest is said
   * (restSaid) — until anything else is recorded, at the latest.
   */
  botStopped(t: SpeakingTurn, reason: StopReason, heard: string, addLatency?: (l: TurnLatency) => void): void {
    const latency = t.latency ? { ...t.latency } : undefined;
    if (latency) {
      addLatency?.(latency);
      if (reason === 'interrupted') {
        this.turnLatencies.push(latency);
        this.transport.notify({ type: 'turn_latency', turn: t.id, latency: { ...latency } });
      }
    }
    if (reason === 'call-ended' && t.kind === 'goodbye') return;
    // Recorded even when nothing was heard: its tool rounds, in the history already, are settled to that.
    const stopped: StoppedTurn = { turn: t, reason, heard, latency };
    if (reason !== 'interrupted' && reason !== 'tts-failed') return this.recordStopped(stopped, 'as heard');
    this.flush();
    this.restMaySay = stopped;
  }

  /**
   * The rest of stopped turn `t` is being said from the start of the phrase the caller heard only in part
   * (`from: 'turn start'`: all of it again): what is said again is stored with the turn that says it in full, so
   * `t` keeps only the phrases heard whole before it. The transcript and the history hold each phrase once.
   */
  restSaid(t: SpeakingTurn, from: 'cut phrase' | 'turn start'): void {
    const stopped = this.restMaySay;
    if (stopped?.turn !== t) return;
    this.restMaySay = null;
    if (from === 'cut phrase') this.recordStopped(stopped, 'whole phrases');
  }

  /** Records a stopped turn whose rest was not said (the caller spoke, the call ended…): as heard, "…" and all. */
  flush(): void {
    const stopped = this.restMaySay;
    if (!stopped) return;
    this.restMaySay = null;
    this.recordStopped(stopped, 'as heard');
  }

  private recordStopped({ turn: t, reason, heard, latency }: StoppedTurn, keep: StoppedTurnKept): void {
    const { playback } = t;
    // The words of the answer's tool rounds are in the history already, with their calls (agent-turn.ts): they are
    // kept as the rest of the turn is, and a tool's say the caller did not hear whole is marked so.
    t.toolRounds.settle(playback, keep);
    const text = keep === 'as heard' ? heard : playback.heardText();
    // The phrases the voice could not say are not part of the rest (unheardText): recorded with this turn.
    const unsaid = unsaidOf(t);
    if (!text && !unsaid) return;
    this.record({ role: 'bot', text, ts: this.iso(t.startedAt), interrupted: true, ...(latency && reason === 'interrupted' ? { latency } : {}), ...(t.safety ? { safety: t.safety } : {}), ...unsaid });
    if ((reason === 'interrupted' || reason === 'tts-failed') && (t.kind === 'agent' || t.kind === 'resume')) {
      const from = t.toolRounds.phrasesInHistory;
      const after = keep === 'whole phrases' ? playback.heardText(from) : from > 0 ? playback.heardTranscript(from) : heard;
      if (after) this.assistant(after);
    }
  }

  system(text: string): void {
    this.record({ role: 'system', text, ts: this.iso() });
  }

  /**
   * A note on the call itself, not on what was said (the recognizer was out): stored as it happens, so it never
   * settles a stopped turn that waits to know whether its rest is said (record() would, as heard).
   */
  note(text: string): void {
    this.append({ role: 'system', text, ts: this.iso() });
  }

  private record(turn: TranscriptTurn): void {
    this.flush();
    this.append(turn);
  }

  private append(turn: TranscriptTurn): void {
    this.recorder.appendTurn(turn).catch((err: unknown) => this.log.error({ err: errText(err) }, 'recording a turn failed'));
  }

  private iso(at?: number | null): string {
    return new Date(at ?? this.clock.now()).toISOString();
  }
}

/** The `unsaid` field of a bot turn's record: the phrases its voice could not say, if any (null: none). */
function unsaidOf(turn: SpeakingTurn): { unsaid: string[] } | null {
  const unsaid = turn.playback.unsaid;
  return unsaid.length ? { unsaid } : null;
}

/** A new answer's latency timeline, from the caller's end of speech (`base`). */
export function answerLatency(u: CallerUtterance | null, base: number): TurnLatency {
  return {
    speechMs: u?.speechStartedAt != null && u.speechEndedAt != null ? u.speechEndedAt - u.speechStartedAt : null,
    sttFinalMs: u?.sttFinalAt != null ? u.sttFinalAt - base : null,
    endpointMs: u?.endpointMs ?? null,
    retrievalMs: null,
    llmFirstTokenMs: null,
    ttsFirstAudioMs: null,
    responseMs: null,
    totalMs: null,
  };
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

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
