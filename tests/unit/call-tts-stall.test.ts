/**
 * A voice that goes quiet, and a caller's side that never takes the audio: nothing waits for speech forever.
 * A TTS turn with no audio fails at the playback's deadline (TtsFailure: the session reopens TTS and says the
 * rest, or ends), and a wrap-up — the maximum call length above all — ends the call by its hard stop even when
 * its goodbye can never be heard. Fake time: the figures asserted are the call loop's own deadlines.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CallLimits } from '../../src/bots/config-schema.js';
import { GOODBYE_MARGIN_MS, GOODBYE_START_MS } from '../../src/call/call-session.js';
import { TTS_AUDIO_IDLE_MS, TTS_FIRST_AUDIO_MS } from '../../src/call/playback.js';
import { RECONNECT_BUDGET_MS } from '../../src/call/reconnect-budget.js';
import type { SttProvider, SttSession, TtsProvider, TtsSession, TtsTurn } from '../../src/providers/types.js';
import { AsyncQueue } from '../../src/util/async-queue.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { saySentence, ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const GREETING = 'Hello, this is Acme Dental.';
const ANSWER = 'We open at nine. On Saturdays we open at ten.';
const TIME_LIMIT = "I'm sorry, we've reached the time limit for this call.";

/**
 * A TTS like Cartesia's when a context is accepted and never answered: turns started while `hang` is set (or
 * while `hangNext` counts down) yield no audio; `stallAfterChunk` turns send one chunk and then nothing, never
 * ending. Cancelling a hung turn ends its stream (as CartesiaTurn does).
 */
class HangingTts implements TtsProvider {
  readonly name = 'hanging-tts';
  readonly inner = new ScriptedTts();
  hang = false;
  hangNext = 0;
  stallAfterChunk = 0;
  opened = 0;
  hungTurns = 0;
  hungCancelled = 0;

  async open(options: Parameters<TtsProvider['open']>[0]): Promise<TtsSession> {
    this.opened++;
    const s = await this.inner.open(options);
    return {
      close: () => s.close(),
      startTurn: (signal) => {
        if (this.hang || this.hangNext > 0) {
          if (this.hangNext > 0) this.hangNext--;
          return this.hungTurn(false);
        }
        if (this.stallAfterChunk > 0) {
          this.stallAfterChunk--;
          return this.hungTurn(true);
        }
        return s.startTurn(signal);
      },
    };
  }

  private hungTurn(oneChunk: boolean): TtsTurn {
    this.hungTurns++;
    const audio = new AsyncQueue<Uint8Array>();
    if (oneChunk) audio.push(new Uint8Array(2400));
    return {
      pushText: () => {},
      end: () => {},
      audio,
      cancel: async () => {
        if (!audio.isClosed) this.hungCancelled++;
        audio.abort();
      },
    };
  }
}

/** A recognizer whose sessions are counted when closed (an open one keeps billing). */
class CountingStt implements SttProvider {
  readonly name = 'counting-stt';
  readonly inner = new ScriptedStt();
  closed = 0;
  async open(options: Parameters<SttProvider['open']>[0]): Promise<SttSession> {
    const s = await this.inner.open(options);
    return {
      ...s,
      close: async () => {
        this.closed++;
        await s.close();
      },
    };
  }
}

function harness(options: { limits?: Partial<CallLimits>; before?: (tts: HangingTts, transport: MemoryTransport) => void } = {}) {
  const stt = new CountingStt();
  const tts = new HangingTts();
  const { transport, recorder, session } = testCallSession({
    stt, llm: new ScriptedLlm(() => ANSWER), tts,
    config: { greeting: GREETING, systemPrompt: 'Be brief.' },
    ...(options.limits ? { limits: options.limits } : {}),
    context: { callId: 'call-1', botId: 'bot-1', companyId: 'company-1', callerNumber: '+15550001111', botName: 'Acme' },
  });
  options.before?.(tts, transport);
  const startedAt = Date.now();
  let endedAt: number | null = null;
  const done = session.start().then(() => void (endedAt = Date.now()));
  return {
    transport, stt, tts, recorder, session, done, startedAt,
    get ended() {
      return endedAt !== null;
    },
    get endedAfterMs() {
      return endedAt === null ? null : endedAt - startedAt;
    },
    advance: (ms: number) => vi.advanceTimersByTimeAsync(ms),
    texts: () => recorder.turns.map((t) => `${t.role}${t.interrupted ? '(interrupted)' : ''}: ${t.text}`),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('a TTS turn that yields no audio fails at the deadline', () => {
  it('a voice that never answers the greeting: cut at the first-audio budget, reopened once, then the call ends', async () => {
    const h = harness({ before: (tts) => (tts.hang = true) });
    await h.advance(TTS_FIRST_AUDIO_MS - 100);
    expect(h.tts.hungTurns).toBe(1);
    expect(h.tts.opened).toBe(1);
    await h.advance(200);
    // The hung turn was cancelled (not left open), TTS reopened and the greeting asked for again.
    expect(h.tts.hungCancelled).toBe(1);
    expect(h.tts.opened).toBe(2);
    expect(h.tts.hungTurns).toBe(2);
    expect(h.ended).toBe(false);
    await h.advance(RECONNECT_BUDGET_MS + 500);
    await h.done;
    // A voice that opens but never speaks is given up once a reconnect budget of failures has passed: the retry
    // had only what was left of the budget to speak (not a second full first-audio wait).
    expect(h.endedAfterMs).toBeLessThanOrEqual(TTS_FIRST_AUDIO_MS + RECONNECT_BUDGET_MS + 500);
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.transport.hangupReason).toBe('provider_failure: tts');
    expect(h.session.state).toBe('ended');
    expect(h.stt.closed).toBeGreaterThan(0);
    expect(h.tts.hungCancelled).toBe(2);
  });

  it('an answer whose voice goes quiet once: cut at the budget, TTS reopened and the answer said', async () => {
    const h = harness();
    await h.advance(4000);
    expect(h.texts()).toContain(`bot: ${GREETING}`);
    h.tts.hangNext = 1;
    void h.stt.inner.play(saySentence('when do you open'));
    await h.advance(2000 + TTS_FIRST_AUDIO_MS + 8000);
    expect(h.tts.hungTurns).toBe(1);
    expect(h.tts.hungCancelled).toBe(1);
    expect(h.tts.opened).toBe(2);
    expect(h.texts().at(-1)).toBe(`bot: ${ANSWER}`);
    expect(h.ended).toBe(false);
  });

  it('a phrase whose audio stops mid-way (never ended by the provider) is cut after the idle budget', async () => {
    const h = harness();
    await h.advance(4000);
    h.tts.stallAfterChunk = 1;
    void h.stt.inner.play(saySentence('when do you open'));
    await h.advance(2000 + TTS_AUDIO_IDLE_MS + 8000);
    expect(h.tts.hungCancelled).toBe(1);
    expect(h.tts.opened).toBe(2);
    // What was not heard in full is said again on the new session.
    expect(h.texts().at(-1)).toBe(`bot: ${ANSWER}`);
    expect(h.ended).toBe(false);
  });

  it('a voice that goes quiet for good mid-call ends the call, the conversation stored', async () => {
    const h = harness();
    await h.advance(4000);
    h.tts.hang = true;
    void h.stt.inner.play(saySentence('when do you open'));
    await h.advance(2000);
    const askedAt = Date.now();
    await h.advance(TTS_FIRST_AUDIO_MS + RECONNECT_BUDGET_MS + 1000);
    await h.done;
    expect(h.startedAt + h.endedAfterMs! - askedAt).toBeLessThanOrEqual(TTS_FIRST_AUDIO_MS + RECONNECT_BUDGET_MS + 500);
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.texts()).toContain('caller: when do you open');
    expect(h.stt.closed).toBeGreaterThan(0);
  });
});

describe('the call always ends by its limit', () => {
  const limits = { maxCallSec: 30, silenceRepromptSec: 120, silenceHangupSec: 600 };

  it('a goodbye that plays normally at the limit is heard in full: the hard stop does not cut it', async () => {
    const h = harness({ limits });
    await h.advance(30_000 + GOODBYE_START_MS + GOODBYE_MARGIN_MS + 5000);
    await h.done;
    expect(h.texts().at(-1)).toBe(`bot: ${TIME_LIMIT} Thank you for calling. Goodbye!`);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
  });

  it('a voice that hangs on the goodbye at the maximum call length: the call ends GOODBYE_START_MS after the limit', async () => {
    const h = harness({ limits });
    await h.advance(29_000);
    h.tts.hang = true;
    await h.advance(1000 + GOODBYE_START_MS - 100);
    expect(h.tts.hungTurns).toBe(1);
    expect(h.ended).toBe(false);
    await h.advance(200);
    await h.done;
    expect(h.endedAfterMs).toBeLessThanOrEqual(30_000 + GOODBYE_START_MS + 100);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
    expect(h.transport.hangupReason).toBe('max_duration');
    expect(h.tts.hungCancelled).toBe(1);
    expect(h.stt.closed).toBeGreaterThan(0);
  });

  it('a caller whose side stops taking audio (a backlog that never drains): the call ends by the limit', async () => {
    const h = harness({ limits });
    await h.advance(29_000);
    h.transport.pendingBytes = 1_000_000_000;
    await h.advance(1000 + GOODBYE_START_MS + 100);
    await h.done;
    expect(h.endedAfterMs).toBeLessThanOrEqual(30_000 + GOODBYE_START_MS + 100);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
    expect(h.transport.hangupReason).toBe('max_duration');
  });

  it('a web client that never reads the bot\'s audio: a 30 s call ends at 30 s plus the bound, not when the caller leaves', async () => {
    const h = harness({ limits, before: (_tts, transport) => (transport.pendingBytes = 1_000_000_000) });
    await h.advance(10_000);
    void h.stt.inner.play(saySentence('hello are you there'));
    await h.advance(20_000 + GOODBYE_START_MS + 100);
    await h.done;
    expect(h.transport.count('audio')).toBe(0);
    expect(h.endedAfterMs).toBeLessThanOrEqual(30_000 + GOODBYE_START_MS + 100);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
  });

  it('a client that never echoes marks: the goodbye goes out at the clock\'s pace, and the call ends within the bound', async () => {
    const h = harness({ limits });
    await h.advance(29_000);
    // From now on no mark comes back: only the playback's clock says what was played.
    (h.transport as unknown as { sendMark: (name: string) => void }).sendMark = (name) => void h.transport.sent.push({ type: 'mark', name, at: Date.now() });
    const limitAt = h.startedAt + 30_000;
    await h.advance(1000 + GOODBYE_START_MS + GOODBYE_MARGIN_MS + 100);
    await h.done;
    expect(h.tts.inner.texts).toContain(TIME_LIMIT);
    expect(h.transport.sent.filter((s) => s.type === 'audio' && s.at >= limitAt).length).toBeGreaterThan(0);
    // Started in time, so it may play out its audio plus the margin — and no longer.
    expect(h.endedAfterMs).toBeLessThanOrEqual(30_000 + GOODBYE_START_MS + GOODBYE_MARGIN_MS);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
  });

  it('the bot\'s own last words that never play (end_call requested) do not outlive the limit', async () => {
    const h = harness({ limits });
    await h.advance(4000);
    // The caller's side stops taking audio while the bot answers; the bot has asked to end the call meanwhile.
    h.transport.pendingBytes = 1_000_000_000;
    void h.stt.inner.play(saySentence('when do you open'));
    await h.advance(3000);
    (h.session as unknown as { control: { endCall: (r: string) => void } }).control.endCall('caller is done');
    await h.advance(23_000 + GOODBYE_START_MS + 100);
    await h.done;
    expect(h.endedAfterMs).toBeLessThanOrEqual(30_000 + GOODBYE_START_MS + 100);
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'bot_end_call: caller is done' });
  });
});
