/**
 * STT and TTS that drop, fail or hang mid-call: the call reconnects within one time budget (RECONNECT_BUDGET_MS,
 * reconnect-budget.ts), and past it apologises (or, with no voice left, ends) with what was said stored. Fake
 * time: the figures asserted are the call loop's own deadlines, not speed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RECONNECT_BUDGET_MS } from '../../src/call/reconnect-budget.js';
import type { Tool, ToolResult } from '../../src/call/tool-types.js';
import type { ChatMessage, LlmRequest, SttProvider, TtsProvider, TtsSession } from '../../src/providers/types.js';
import { saySentence, ScriptedLlm, ScriptedStt, ScriptedTts, ScriptedVoice, type ScriptedReply, type ScriptedTtsOptions } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const GREETING = 'Hello, this is Acme Dental.';
const APOLOGY = "I'm sorry, I'm having technical difficulties.";
const ANSWER = 'We open at nine. On Saturdays we open at ten. On Sundays we are closed.';

/** A TTS whose sessions can hang on open, or fail mid-phrase after some audio. */
class FlakyTts implements TtsProvider {
  readonly name = 'flaky-tts';
  readonly inner: ScriptedTts;
  hangOpens = 0;
  opened = 0;
  /** Phrases to break after their first chunk of audio. */
  breakMidPhrase = 0;
  /** Break the phrase with this text after `breakAfterChunks` chunks, once. */
  breakPhrase: string | null = null;
  breakAfterChunks = 1;

  constructor(options?: ScriptedTtsOptions) {
    this.inner = new ScriptedTts(options);
  }

  async open(options: Parameters<TtsProvider['open']>[0]): Promise<TtsSession> {
    this.opened++;
    if (this.hangOpens > 0) {
      this.hangOpens--;
      return new Promise<TtsSession>(() => {});
    }
    const s = await this.inner.open(options);
    return {
      close: () => s.close(),
      startTurn: (signal) => {
        const turn = s.startTurn(signal);
        let chunksBeforeBreak = 0;
        if (this.breakMidPhrase > 0) {
          this.breakMidPhrase--;
          chunksBeforeBreak = 1;
        }
        const pushText = (text: string): void => {
          if (this.breakPhrase !== null && text.trim() === this.breakPhrase) {
            this.breakPhrase = null;
            chunksBeforeBreak = this.breakAfterChunks;
          }
          turn.pushText(text);
        };
        return {
          ...turn,
          pushText,
          audio: (async function* () {
            let chunks = 0;
            for await (const chunk of turn.audio) {
              yield chunk;
              if (chunksBeforeBreak > 0 && ++chunks >= chunksBeforeBreak) throw new Error('tts socket dropped');
            }
          })(),
        };
      },
    };
  }
}

function harness(
  options: { stt?: SttProvider; tts?: TtsProvider; ttsOptions?: ScriptedTtsOptions; before?: (tts: FlakyTts) => void; reply?: (r: LlmRequest, i: number) => ScriptedReply; tools?: Tool[]; voice?: ScriptedVoice } = {},
) {
  // The scripted recognizer and the flaky voice, as the tests drive them (the session may be given others).
  const stt = new ScriptedStt();
  const tts = new FlakyTts(options.ttsOptions);
  options.before?.(tts);
  const { transport, llm, recorder, session } = testCallSession({
    stt: options.stt ?? stt,
    llm: new ScriptedLlm(options.reply ?? (() => ANSWER)),
    tts: options.tts ?? tts,
    tools: options.tools ?? [],
    config: { greeting: GREETING, systemPrompt: 'Be brief.' },
    context: { callId: 'call-1', botId: 'bot-1', companyId: 'company-1', callerNumber: '+15550001111', botName: 'Acme' },
    session: { callerVoice: options.voice?.factory ?? null },
  });
  let ended = false;
  const done = session.start().then(() => void (ended = true));
  return {
    transport, stt, llm, tts, recorder, session, done,
    get ended() {
      return ended;
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

describe('STT drops or hangs mid-call', () => {
  it('a dropped recognizer is reopened and the call goes on', async () => {
    const h = harness();
    await h.advance(4000);
    h.stt.fail();
    await h.advance(100);
    expect(h.stt.opened).toBe(2);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(8000);
    expect(h.texts()).toContain('caller: when do you open');
    expect(h.texts()).toContain(`bot: ${ANSWER}`);
    expect(h.ended).toBe(false);
  });

  it('the outage is in the transcript: a system turn says the recognizer was out, for how long, and came back', async () => {
    const h = harness();
    await h.advance(4000);
    h.stt.fail();
    await h.advance(100);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(8000);
    const notes = h.recorder.turns.filter((t) => t.role === 'system').map((t) => t.text);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^Speech recognition was interrupted for \d+\.\d s and reconnected\.$/);
    expect(h.texts().slice(1)).toEqual([notes.map((n) => `system: ${n}`)[0], 'caller: when do you open', `bot: ${ANSWER}`]);
  });

  it('words recognised before a drop mid-utterance stay in the caller\'s turn, the new session\'s words after them', async () => {
    const h = harness();
    await h.advance(4000);
    // The words of a recognizer that drops before it finalised them, then of the session that takes over.
    void h.stt.play(saySentence('I would like to book').slice(0, -1));
    await h.advance(1500);
    h.stt.fail();
    await h.advance(1000);
    expect(h.stt.opened).toBe(2);
    void h.stt.play(saySentence('a haircut tomorrow at three').slice(1));
    await h.advance(8000);
    expect(h.texts()).toContain('caller: I would like to book a haircut tomorrow at three');
    expect(h.llm.requests[0]!.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['I would like to book a haircut tomorrow at three']);
    expect(h.texts()).toContain(`bot: ${ANSWER}`);
  });

  it('a recognizer stream that ends without an error mid-utterance: its words are answered, not lost', async () => {
    const h = harness();
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open').slice(0, -1));
    await h.advance(1500);
    h.stt.end();
    await h.advance(8000);
    expect(h.stt.opened).toBe(2);
    expect(h.texts().filter((t) => !t.startsWith('system: Speech recognition was interrupted'))).toEqual([`bot: ${GREETING}`, 'caller: when do you open', `bot: ${ANSWER}`]);
  });

  it('a recognizer whose reopen hangs is given up at the budget: the caller hears the apology then', async () => {
    let opens = 0;
    const inner = new ScriptedStt();
    const hanging: SttProvider = {
      name: 'hanging-stt',
      open: (o) => (++opens === 1 ? inner.open(o) : new Promise(() => {})),
    };
    const h = harness({ stt: hanging });
    await h.advance(4000);
    void inner.play(saySentence('when do you open'));
    await h.advance(8000);
    inner.fail();
    const droppedAt = Date.now();
    await h.advance(RECONNECT_BUDGET_MS - 50);
    expect(opens).toBe(2);
    expect(h.tts.inner.texts).not.toContain(APOLOGY);
    await h.advance(100);
    expect(h.tts.inner.texts).toContain(APOLOGY);
    expect(Date.now() - droppedAt).toBeLessThanOrEqual(RECONNECT_BUDGET_MS + 50);
    await h.advance(15_000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: stt' });
    // What was said before is stored.
    expect(h.texts()).toEqual(expect.arrayContaining(['caller: when do you open', `bot: ${ANSWER}`]));
  });

  it('a recognizer lost for good mid-turn: the caller\'s words are stored, not answered by a request the apology cancels', async () => {
    const voice = new ScriptedVoice();
    const h = harness({ voice });
    await h.advance(4000);
    const failWhenOpened = async (session: number, afterMs: number) => {
      while (h.stt.opened < session) await h.advance(50);
      await h.advance(afterMs);
      h.stt.fail();
    };
    // The caller is still talking when the first session drops with their words; every session after it fails
    // without a word, each before it could count as stable, until the reconnect budget is spent at the fourth.
    voice.onset();
    void h.stt.play(saySentence('when do you open').slice(0, -1));
    await h.advance(1500);
    h.stt.fail();
    await failWhenOpened(2, 1900);
    await failWhenOpened(3, 1900);
    while (h.stt.opened < 4) await h.advance(50);
    // The caller stops while the last session is up: only a reopen would finish their turn, and none follows.
    voice.end();
    await failWhenOpened(4, 1900);
    await h.advance(100);
    expect(h.stt.opened).toBe(4);
    expect(h.tts.inner.texts).toContain(APOLOGY);
    expect(h.llm.requests).toHaveLength(0);
    await h.advance(15_000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: stt' });
    expect(h.texts()).toContain('caller: when do you open');
  });

  it('a failure the provider calls unrecoverable (bad key) apologises at once', async () => {
    const h = harness();
    await h.advance(4000);
    h.stt.fail(false);
    await h.advance(50);
    expect(h.stt.opened).toBe(1);
    expect(h.tts.inner.texts).toContain(APOLOGY);
  });

  it('a reopen refused for good (the key was revoked mid-call) apologises at once, not after the budget', async () => {
    const h = harness();
    await h.advance(4000);
    h.stt.rejectOpens = true;
    h.stt.fail(true);
    await h.advance(500);
    expect(h.stt.opened).toBe(2);
    expect(h.tts.inner.texts).toContain(APOLOGY);
  });
});

describe('TTS fails to open, hangs, or fails mid-phrase', () => {
  it('a TTS that fails to open at first is retried within the budget, and the greeting plays', async () => {
    const h = harness({ before: (tts) => (tts.inner.failOpens = 3) });
    await h.advance(4000);
    expect(h.tts.opened).toBe(4);
    expect(h.texts()).toContain(`bot: ${GREETING}`);
    expect(h.ended).toBe(false);
  });

  it('a TTS that refuses the key at once ends the call at once, not after the budget', async () => {
    const h = harness({ before: (tts) => (tts.inner.rejectOpens = true) });
    await h.advance(100);
    await h.done;
    expect(h.tts.opened).toBe(1);
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
  });

  it('a TTS open that hangs is cut at the budget: the call ends (no voice to apologise with)', async () => {
    const h = harness({ before: (tts) => (tts.hangOpens = 1000) });
    await h.advance(RECONNECT_BUDGET_MS - 50);
    expect(h.ended).toBe(false);
    await h.advance(2100);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.transport.hangupReason).toBe('provider_failure: tts');
  });

  it('a phrase that fails mid-synthesis: TTS is reopened and the unheard rest is said', async () => {
    const h = harness();
    await h.advance(4000);
    const opensBefore = h.tts.opened;
    h.tts.breakMidPhrase = 1;
    void h.stt.play(saySentence('when do you open'));
    await h.advance(10_000);
    expect(h.tts.opened).toBe(opensBefore + 1);
    const bot = h.texts().filter((t) => t.startsWith('bot'));
    // Nothing the caller heard in full is lost or said twice: the cut first phrase is said again with the rest.
    expect(bot.at(-1)).toBe(`bot: ${ANSWER}`);
    expect(h.ended).toBe(false);
  });

  it('a voice lost part-way through a phrase: that phrase is said again from its start, and stored once', async () => {
    // Audio comes at the pace it plays (a word of 300 ms every 300 ms), so the caller has heard "On Saturdays we"
    // when the second phrase's synthesis breaks.
    const h = harness({ ttsOptions: { chunkMs: 300 } });
    await h.advance(4000);
    h.tts.breakPhrase = 'On Saturdays we open at ten.';
    h.tts.breakAfterChunks = 3;
    void h.stt.play(saySentence('when do you open'));
    await h.advance(15_000);
    // Phrases heard whole are not said again; the cut one is, from its start (a voice cannot begin mid-phrase).
    expect(h.tts.inner.texts.filter((t) => t === 'We open at nine.')).toHaveLength(1);
    expect(h.tts.inner.texts.filter((t) => t === 'On Saturdays we open at ten.')).toHaveLength(2);
    // The transcript and the history hold each phrase once: the cut turn keeps what was heard whole, and the
    // phrase said again belongs to the turn that said it in full.
    expect(h.texts().slice(-3)).toEqual([
      'caller: when do you open',
      'bot(interrupted): We open at nine.',
      'bot: On Saturdays we open at ten. On Sundays we are closed.',
    ]);
    void h.stt.play(saySentence('thank you'));
    await h.advance(8000);
    const history = h.llm.requests.at(-1)!.messages.filter((m) => m.role === 'assistant').map((m) => m.content);
    expect(history).toEqual([`We open at nine.\nOn Saturdays we open at ten. On Sundays we are closed.`]);
  });

  it('a voice lost in the words said with a tool call: the cut phrase is stored once, and the say reads told once it has played', async () => {
    // A booking that takes a while: the voice drops in "One moment…" while it is being made.
    let finish: (() => void) | null = null;
    const booking: Tool = {
      spec: { name: 'book', description: 'Book', parameters: { type: 'object', properties: {} } },
      run: async () => {
        await new Promise<void>((resolve) => (finish = resolve));
        return { content: { booking_id: 'b1' }, say: 'You are booked for Friday.' } satisfies ToolResult;
      },
    };
    const h = harness({
      ttsOptions: { chunkMs: 300 },
      tools: [booking],
      reply: (_r, i) => (i === 0 ? { text: 'Friday at ten works. One moment while I book that for you. ', toolCalls: [{ id: 'c1', name: 'book', arguments: {} }] } : 'Anything else?'),
    });
    await h.advance(4000);
    h.tts.breakPhrase = 'One moment while I book that for you.';
    h.tts.breakAfterChunks = 2;
    void h.stt.play(saySentence('book me for friday'));
    await h.advance(8000);
    finish!();
    await h.advance(8000);
    // "Friday at ten works." was heard whole; the cut phrase is said again from its start, with the say that could not be played.
    expect(h.tts.inner.texts.filter((t) => t === 'One moment while I book that for you.')).toHaveLength(2);
    expect(h.texts().slice(-3)).toEqual([
      'caller: book me for friday',
      'bot(interrupted): Friday at ten works.',
      'bot: One moment while I book that for you. You are booked for Friday.',
    ]);

    void h.stt.play(saySentence('thank you'));
    await h.advance(8000);
    const asked = h.llm.requests.at(-1)!.messages;
    const shape = (m: ChatMessage) => (m.role === 'tool' ? `tool ${m.toolCallId}` : `${m.role}${m.role === 'assistant' && m.toolCalls?.length ? '[tools]' : ''}: ${m.content}`);
    // Each phrase once: the round keeps what was heard whole, the phrase said again is with the turn that said it.
    expect(asked.map(shape)).toEqual([
      'user: book me for friday',
      'assistant[tools]: Friday at ten works.',
      'tool c1',
      'assistant: One moment while I book that for you. You are booked for Friday.',
      'user: thank you',
    ]);
    // The say could not be played in the cut turn; said with its rest once the voice was back, it was heard.
    expect(JSON.parse(asked[2]!.content)).toEqual({ booking_id: 'b1' });
  });

  it('TTS that stays down mid-call ends the call within the budget, the conversation stored', async () => {
    const h = harness();
    await h.advance(4000);
    h.tts.breakMidPhrase = 1;
    h.tts.hangOpens = 1000;
    void h.stt.play(saySentence('when do you open'));
    await h.advance(2000);
    const callerDoneAt = Date.now();
    await h.advance(RECONNECT_BUDGET_MS + 3000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.texts()).toContain('caller: when do you open');
    expect(Date.now() - callerDoneAt).toBeLessThanOrEqual(RECONNECT_BUDGET_MS + 3000);
  });
});

describe('a voice that ends phrases without any audio', () => {
  it('a phrase it makes nothing of is stored unsaid, not as said; the rest of the answer is said and the call goes on', async () => {
    const h = harness({ before: (tts) => (tts.inner.noAudioFor = (text) => text === 'On Saturdays we open at ten.') });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(8000);
    const answer = h.recorder.turns.find((t) => t.role === 'bot' && t.text.startsWith('We open at nine'));
    expect(answer).toMatchObject({ text: 'We open at nine. On Sundays we are closed.', unsaid: ['On Saturdays we open at ten.'] });
    // What the model is told it said is what the caller heard.
    void h.stt.play(saySentence('thanks'));
    await h.advance(8000);
    const history = h.llm.requests[1]!.messages.filter((m) => m.role === 'assistant').map((m) => m.content);
    expect(history).toEqual(['We open at nine. On Sundays we are closed.']);
    expect(h.ended).toBe(false);
  });

  it('a voice that makes no audio at all: nothing is stored as said, and the call ends (provider_failure: tts) instead of going on in silence', async () => {
    const h = harness({ before: (tts) => (tts.inner.noAudioFor = () => true) });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(8000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.recorder.turns.filter((t) => t.role === 'bot' && t.text)).toEqual([]);
    expect(h.texts()).toContain('caller: when do you open');
  });
});
