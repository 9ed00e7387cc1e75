/**
 * One simulated call of the load benchmark: greeting, K ordinary turns, one turn whose long answer the caller
 * interrupts, then hang up. Everything is timed on the caller's side of the wire.
 */
import { BenchCaller, type BenchCallerOptions, type EncodedSpeech } from './bench-caller.js';

export interface CallScriptOptions {
  caller: BenchCallerOptions;
  turns: number;
  speech: EncodedSpeech;
  bargeSpeech: EncodedSpeech;
  /** How long the bot's long answer plays before the caller cuts in. */
  bargeAfterMs: number;
  /** Bot silence that counts as "done talking". */
  quietMs: number;
  /**
   * A caller who only listens: after the greeting the line stays open this long, carrying the caller's silence
   * (20 ms frames as ever), no turns and no barge-in, then hangs up. What a call costs before anyone talks.
   */
  listenMs?: number;
}

export interface TurnSample {
  /** Caller's last speech frame sent → first bot audio frame received. */
  voiceToVoiceMs: number;
  /** performance.now() of the caller's last speech frame sent, and of the first bot audio received after it. */
  endAt: number;
  firstAudioAt: number;
  /** Bot audio bytes received for this answer (null when the answer was interrupted). */
  replyBytes: number | null;
}

export interface CallResult {
  ok: boolean;
  error?: string;
  /** Media stream open → first greeting audio. */
  greetingMs: number | null;
  greetingBytes: number | null;
  turns: TurnSample[];
  /** Caller's first barge-in speech frame sent → `clear` received. */
  bargeInMs: number | null;
  inboundBytesSent: number;
  botAudioBytes: number;
  lateFrames: number;
  framesSentTotal: number;
  maxFrameLateMs: number;
  /** The caller's watermark tag and when each of its frames went out (see watermark.ts). */
  tag: number;
  frameSentAt: number[];
  /** Parley's call id (to read the stored transcript), and stream open → hang-up in seconds. */
  callId: string;
  durationSec: number;
}

export async function runCall(o: CallScriptOptions): Promise<CallResult> {
  const result: CallResult = {
    ok: false, greetingMs: null, greetingBytes: null, turns: [], bargeInMs: null,
    inboundBytesSent: 0, botAudioBytes: 0, lateFrames: 0, framesSentTotal: 0, maxFrameLateMs: 0,
    tag: o.caller.tag, frameSentAt: [], callId: '', durationSec: 0,
  };
  let openedAt = performance.now();
  let caller: BenchCaller | null = null;
  try {
    const dialedAt = performance.now();
    caller = await BenchCaller.dial(o.caller);
    openedAt = performance.now();
    result.callId = caller.callId;
    caller.watchAudioAfter(dialedAt);
    const greetingAt = await caller.watchedAudio(15_000);
    if (greetingAt === null) throw new Error('no greeting audio within 15 s');
    result.greetingMs = Math.max(0, greetingAt - openedAt);
    await caller.waitForBotQuiet(o.quietMs, 30_000);
    result.greetingBytes = caller.takePhaseBytes();
    if (o.listenMs !== undefined) {
      await new Promise((r) => setTimeout(r, o.listenMs));
      await caller.hangup();
      result.ok = true;
      return finish(result, caller, openedAt);
    }

    for (let k = 0; k < o.turns; k++) {
      const spoken = await caller.say(o.speech);
      const first = await caller.watchedAudio(15_000);
      if (first === null) throw new Error(`turn ${k + 1}: no answer within 15 s`);
      await caller.waitForBotQuiet(o.quietMs, 30_000);
      result.turns.push({ voiceToVoiceMs: first - spoken.endAt, endAt: spoken.endAt, firstAudioAt: first, replyBytes: caller.takePhaseBytes() });
    }

    // The long answer: measured like any turn, then interrupted.
    const spoken = await caller.say(o.speech);
    const first = await caller.watchedAudio(15_000);
    if (first === null) throw new Error('long turn: no answer within 15 s');
    result.turns.push({ voiceToVoiceMs: first - spoken.endAt, endAt: spoken.endAt, firstAudioAt: first, replyBytes: null });
    await new Promise((r) => setTimeout(r, o.bargeAfterMs));
    if (!caller.botSpeaking) throw new Error('the long answer was over before the barge-in (make it longer)');
    const barge = caller.say(o.bargeSpeech);
    // The first frame goes out on the next mic tick.
    while (caller.currentSpeechStartAt === 0) await new Promise((r) => setTimeout(r, 2));
    const bargeStart = caller.currentSpeechStartAt;
    const clearAt = await caller.clearAfter(bargeStart, 10_000);
    if (clearAt === null) throw new Error('barge-in: no clear within 10 s');
    result.bargeInMs = clearAt - bargeStart;
    await barge;
    // The interruption is a caller turn too: let the bot answer it before hanging up.
    await caller.watchedAudio(15_000);
    await caller.waitForBotQuiet(o.quietMs, 30_000);
    caller.takePhaseBytes();
    await caller.hangup();
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    caller?.terminate();
  }
  return caller ? finish(result, caller, openedAt) : result;
}

/** The caller's side of the figures, once the call is over. */
function finish(result: CallResult, caller: BenchCaller, openedAt: number): CallResult {
  result.inboundBytesSent = caller.inboundBytesSent;
  result.botAudioBytes = caller.botAudioBytes;
  result.lateFrames = caller.lateFrames;
  result.framesSentTotal = caller.inboundBytesSent / 160;
  result.maxFrameLateMs = caller.maxFrameLateMs;
  result.frameSentAt = caller.frameSentAt;
  result.durationSec = (performance.now() - openedAt) / 1000;
  return result;
}
