import { SESSION_PHRASES } from '../../src/call/session-phrases.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BotConfig, CallLimits } from '../../src/bots/config-schema.js';
import { FIRST_TOKEN_BUDGET_MS, STREAM_IDLE_MS } from '../../src/call/agent-turn.js';
import { TYPED_BURST, TYPED_EVERY_MS } from '../../src/call/typed-input.js';
import type { CallSessionOptions } from '../../src/call/call-session.js';
import { RECONNECT_BUDGET_MS } from '../../src/call/reconnect-budget.js';
import type { Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { silentLogger } from '../../src/call/types.js';
import type { LlmRequest, TtsProvider } from '../../src/providers/types.js';
import { testCallSession } from '../helpers/test-call-session.js';
import { saySentence, ScriptedLlm, ScriptedTts, type ScriptedLlmOptions, type ScriptedReply, type ScriptedTtsOptions } from '../helpers/scripted-providers.js';

/** A CallSession wired to scripted providers and the memory transport, under vitest fake timers. */
const GREETING = 'Hello, this is Acme Dental. How can I help?';

interface HarnessOptions {
  reply?: (request: LlmRequest, index: number) => ScriptedReply;
  llm?: ScriptedLlmOptions;
  tts?: ScriptedTtsOptions;
  limits?: Partial<CallLimits>;
  config?: Partial<BotConfig>;
  tools?: Tool[];
  session?: Partial<CallSessionOptions>;
  language?: 'en' | 'ru';
}

/** The bot these tests call: ids and the caller's number some tests read. */
const ACME = { callId: 'call-1', botId: 'bot-1', companyId: 'company-1', callerNumber: '+15550001111', botName: 'Acme' };

function createHarness(options: HarnessOptions = {}) {
  const { transport, stt, llm, tts, recorder, session } = testCallSession({
    llm: new ScriptedLlm(options.reply ?? (() => 'Sure.'), options.llm),
    tts: new ScriptedTts(options.tts),
    tools: [...builtInTools(), ...(options.tools ?? [])],
    config: { greeting: GREETING, systemPrompt: 'Be brief.', ...options.config },
    ...(options.language ? { language: options.language } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    context: ACME,
    ...(options.session ? { session: options.session } : {}),
  });
  let ended = false;
  const done = session.start().then(() => {
    ended = true;
  });
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

const LONG_ANSWER =
  'We are open from nine to five on weekdays. On Saturdays we open at ten and close at two. On Sundays we are closed. Is there anything else I can help with?';

describe('CallSession', () => {
  it('greets through TTS at once, without an LLM round trip', async () => {
    const h = createHarness();
    await h.advance(100);
    expect(h.tts.texts[0]).toBe('Hello, this is Acme Dental.');
    expect(h.transport.count('audio')).toBeGreaterThan(0);
    await h.advance(5000);
    expect(h.llm.requests).toHaveLength(0);
    expect(h.recorder.started).toBe(true);
    expect(h.texts()).toEqual([`bot: ${GREETING}`]);
    // Paced playback: a mark after every ~100 ms slice of each phrase (t1-<phrase>.<slice>), all played.
    expect(new Set(h.transport.playedMarks.map((m) => m.split('.')[0]))).toEqual(new Set(['t1-0', 't1-1']));
    expect(h.transport.playedMarks).toEqual(h.transport.sent.filter((s) => s.type === 'mark').map((s) => (s as { name: string }).name));
  });

  it('closes a TTS session that finished opening after the caller had hung up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inner = new ScriptedTts();
    const slow: TtsProvider = { name: 'slow', open: async (o) => gate.then(() => inner.open(o)) };
    const h = createHarness({ session: { tts: slow } });
    await h.advance(10);
    h.transport.close('stop');
    await h.advance(10);
    expect(h.recorder.ended).not.toBeNull();
    release();
    await h.advance(10);
    expect(inner.closed).toBe(1);
    expect(inner.turns).toBe(0); // and no greeting to nobody
  });

  it('answers a caller turn and records per-stage latency', async () => {
    const h = createHarness({ reply: () => 'We open at nine in the morning.', llm: { firstTokenMs: 150, tokenMs: 20 }, tts: { firstAudioMs: 90 } });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open', { endpointMs: 300 }));
    await h.advance(10_000);
    expect(h.texts()).toEqual([`bot: ${GREETING}`, 'caller: when do you open', 'bot: We open at nine in the morning.']);
    expect(h.llm.lastUserText()).toBe('when do you open');
    const latency = h.recorder.turns[2]?.latency;
    // One timeline from the caller's end of speech (no VAD here: the last recognised words, 4 × 250 ms after onset).
    expect(latency).toMatchObject({ speechMs: 1000, sttFinalMs: 300, endpointMs: 300, llmFirstTokenMs: 300 + 150, retrievalMs: null });
    // First audio once the first phrase (the whole short sentence) was written and synthesised.
    expect(latency?.ttsFirstAudioMs).toBeGreaterThanOrEqual(300 + 150 + 90);
    expect(latency?.responseMs).toBeGreaterThanOrEqual(latency?.ttsFirstAudioMs ?? Infinity);
    expect(latency?.totalMs).toBe(latency?.responseMs);
    expect(h.session.turnLatencies).toHaveLength(1);
    expect(h.transport.notices.some((n) => n.type === 'turn_latency')).toBe(true);
  });

  it('an answer that says nothing (tool rounds used up on garbled calls, an empty reply) is not left as silence', async () => {
    const garbled = { id: 'g', name: 'end_call', arguments: {}, invalidArguments: 'the arguments are not valid JSON: {"reason": ' };
    // The first answer garbles its tool call on every round; the second is empty.
    const h = createHarness({ reply: (req) => (req.messages.filter((m) => m.role === 'user').length === 1 ? { toolCalls: [{ ...garbled, id: `g${req.messages.length}` }] } : '') });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open', { endpointMs: 300 }));
    await h.advance(10_000);
    void h.stt.play(saySentence('hello', { endpointMs: 300 }));
    await h.advance(10_000);
    const noAnswer = SESSION_PHRASES.en.noAnswer;
    expect(h.texts()).toEqual([`bot: ${GREETING}`, 'caller: when do you open', `bot: ${noAnswer}`, 'caller: hello', `bot: ${noAnswer}`]);
    expect(h.ended).toBe(false);
    // The model is told what the caller heard.
    expect(h.llm.requests.at(-1)!.messages.slice(-2)).toEqual([{ role: 'assistant', content: noAnswer }, { role: 'user', content: 'hello' }]);
  });

  it('an answer cut at the token limit before its first whole phrase: the caller hears the no-answer line, and the cut is logged once', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: object, msg: string) => void warnings.push(msg) };
    const h = createHarness({ reply: () => ({ text: 'Well let me think about all of the different ways that we could', finishReason: 'length' }), session: { log } });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open', { endpointMs: 300 }));
    await h.advance(10_000);
    expect(h.texts()).toEqual([`bot: ${GREETING}`, 'caller: when do you open', `bot: ${SESSION_PHRASES.en.noAnswer}`]);
    expect(warnings).toEqual(['answer cut at the token limit']);
  });

  it('tells the LLM on every turn what the greeting said, since the greeting never went through it', async () => {
    const h = createHarness({ reply: () => 'Sure.' });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open', { endpointMs: 300 }));
    await h.advance(6000);
    void h.stt.play(saySentence('and on saturdays', { endpointMs: 300 }));
    await h.advance(6000);
    const systems = h.llm.requests.map((r) => r.system);
    expect(systems).toHaveLength(2);
    expect(systems[0]).toBe(`Be brief.\n\nYou opened the call by saying: "${GREETING}"`);
    expect(systems[1]).toBe(systems[0]);
  });

  it('sends the LLM only the newest exchanges of a long call, while the transcript keeps every turn', async () => {
    const words = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen'];
    const h = createHarness({ reply: () => LONG_ANSWER, limits: { llmHistoryChars: 2000, silenceRepromptSec: 120, silenceHangupSec: 600, maxCallSec: 14_400 } });
    await h.advance(4000);
    for (const w of words) {
      void h.stt.play(saySentence(`question ${w}`, { endpointMs: 300 }));
      await h.advance(20_000);
    }
    expect(h.llm.requests).toHaveLength(words.length);
    expect(h.texts().filter((t) => t.startsWith('caller:'))).toEqual(words.map((w) => `caller: question ${w}`));
    const sizes = h.llm.requests.map((r) => r.messages.reduce((n, m) => n + m.content.length, 0));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2000);
    const last = h.llm.requests.at(-1)!.messages;
    expect(last[0]).toMatchObject({ role: 'user' });
    expect(last.at(-1)).toEqual({ role: 'user', content: 'question sixteen' });
    expect(last.some((m) => m.content === 'question one')).toBe(false);
    // Every answer is still there, in order, up to the question being asked.
    expect(last.filter((m) => m.role === 'assistant').every((m) => m.content === LONG_ANSWER)).toBe(true);
  });

  it('sends the first phrase to TTS while the LLM is still writing', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER, llm: { firstTokenMs: 100, tokenMs: 200 } });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(1250 + 100 + 200 * 9);
    expect(h.tts.texts).toContain('We are open from nine to five on weekdays.');
    expect(h.llm.completed).toBe(0);
    expect(h.transport.sent.filter((s) => s.type === 'audio').length).toBeGreaterThan(8);
    await h.advance(30_000);
    expect(h.llm.completed).toBe(1);
  });

  it('an answer cut in its first phrase still leaves the bot\'s line: the words heard so far', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER, llm: { firstTokenMs: 100, tokenMs: 250 }, tts: { chunkMs: 200 } });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    // About a second of the first sentence (≈ 2.7 s of audio) has played.
    await h.advance(1300 + 3200);
    expect(h.transport.playedMarks.some((m) => m.startsWith('t2-0.'))).toBe(true);
    void h.stt.play(saySentence('wait can you repeat that', { wordMs: 200 }));
    await h.advance(10_000);
    const bot = h.recorder.turns.filter((t) => t.role === 'bot')[1];
    expect(bot).toMatchObject({ interrupted: true });
    expect(bot!.text).toMatch(/^We are open .*…$/);
    expect('We are open from nine to five on weekdays.'.startsWith(bot!.text.replace(/…$/, ''))).toBe(true);
  });

  it('barge-in clears the line, aborts LLM and TTS, and keeps what was heard: whole phrases, then the cut one in part', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER, llm: { firstTokenMs: 100, tokenMs: 250 }, tts: { chunkMs: 200 } });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    // First sentence (9 words ≈ 2.7 s of audio) has played; the LLM is still writing.
    await h.advance(1300 + 5500);
    expect(h.transport.playedMarks.some((m) => m.startsWith('t2-0.'))).toBe(true);
    expect(h.llm.completed).toBe(0);
    const cancelsBefore = h.tts.cancels;
    void h.stt.play(saySentence('wait can you repeat that', { wordMs: 200 }));
    await h.advance(500);
    expect(h.transport.count('clear')).toBe(1);
    expect(h.llm.aborted).toBe(1);
    expect(h.tts.cancels).toBeGreaterThan(cancelsBefore);
    await h.advance(10_000);
    const bot = h.recorder.turns[2];
    expect(bot).toMatchObject({ role: 'bot', interrupted: true, text: 'We are open from nine to five on weekdays. On Saturdays we…' });
    // The recognizer's speech start paused the bot at once (the line cleared); one word at 200 ms, and the
    // 300 ms speech criterion committed the interruption at 300 ms.
    expect(bot?.latency?.bargeInOnsetToQuietMs).toBe(0);
    expect(bot?.latency?.bargeInOnsetToCommitMs).toBe(300);
    expect(bot?.latency?.bargeInDetectToClearMs).toBe(0);
    expect(h.recorder.turns[3]).toMatchObject({ role: 'caller', text: 'wait can you repeat that' });
    // The next LLM request carries only what the caller heard.
    const history = h.llm.requests[1]?.messages ?? [];
    expect(history.find((m) => m.role === 'assistant')).toMatchObject({ content: 'We are open from nine to five on weekdays. On Saturdays we…' });
    expect(h.session.bargeIns).toHaveLength(1);
  });

  it('does not treat a cough or an "uh-huh" as an interruption', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER, llm: { tokenMs: 10 }, limits: { silenceRepromptSec: 120, silenceHangupSec: 600 } });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(3000);
    // A cough: speech detected, no words.
    h.stt.emit({ type: 'speech_started', atMs: 0 });
    await h.advance(800);
    // A backchannel.
    void h.stt.play(saySentence('uh-huh', { wordMs: 400 }));
    await h.advance(60_000);
    // The cough paused the bot (the line went quiet); nothing confirmed it, so it resumed, and the answer was
    // never cut: one bot turn, not interrupted, and the LLM stream was never aborted.
    expect(h.session.bargeIns.length).toBeGreaterThan(0);
    expect(h.session.bargeIns.every((b) => b.outcome === 'resumed')).toBe(true);
    expect(h.llm.aborted).toBe(0);
    expect(h.texts()).toEqual([`bot: ${GREETING}`, 'caller: what are your hours', `bot: ${LONG_ANSWER}`]);
  });

  it('resumes the unheard rest after a false interruption', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER, llm: { tokenMs: 10 } });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(1250 + 3500);
    // Side talk recognised as two words, then nothing more.
    h.stt.emit({ type: 'speech_started', atMs: 0 });
    await h.advance(200);
    h.stt.emit({ type: 'interim', text: 'come here' });
    await h.advance(50);
    expect(h.transport.count('clear')).toBe(1);
    await h.advance(1300);
    expect(h.tts.texts.at(-1)).not.toBe('Is there anything else I can help with?');
    await h.advance(30_000);
    const bots = h.recorder.turns.filter((t) => t.role === 'bot');
    // The rest is said from the start of the phrase that was cut ("On…"), which is stored once: with the turn
    // that said it in full.
    expect(bots[1]).toMatchObject({ interrupted: true, text: 'We are open from nine to five on weekdays.' });
    expect(bots[2]?.text).toBe('On Saturdays we open at ten and close at two. On Sundays we are closed. Is there anything else I can help with?');
    expect(h.recorder.turns.filter((t) => t.role === 'caller')).toHaveLength(1);
  });

  it('re-prompts after silence and hangs up politely after longer silence', async () => {
    const h = createHarness({ limits: { silenceRepromptSec: 8, silenceHangupSec: 20 } });
    await h.advance(3000 + 8000);
    expect(h.tts.texts).toContain('Are you still there?');
    await h.advance(20_000);
    expect(h.tts.texts.at(-1)).toBe('Goodbye!');
    await h.done;
    expect(h.transport.hangupReason).toBe('silence');
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'silence' });
  });

  it('the re-prompt asks again the question the caller left unanswered', async () => {
    const h = createHarness({ config: { greeting: 'Thanks for calling. What name should I book under?' }, limits: { silenceRepromptSec: 8, silenceHangupSec: 20 } });
    await h.advance(3000 + 8000);
    const at = h.tts.texts.indexOf('Are you still there?');
    expect(at).toBeGreaterThan(0);
    expect(h.tts.texts[at + 1]).toBe('What name should I book under?');
    await h.advance(30_000);
    await h.done;
  });

  it('ends at the maximum call length with a goodbye', async () => {
    const h = createHarness({ limits: { maxCallSec: 30, silenceRepromptSec: 120, silenceHangupSec: 600 } });
    await h.advance(29_000);
    expect(h.ended).toBe(false);
    await h.advance(10_000);
    await h.done;
    expect(h.tts.texts).toContain("I'm sorry, we've reached the time limit for this call.");
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'max_duration' });
    expect(h.transport.hangupReason).toBe('max_duration');
  });

  it('reconnects STT within the reconnect budget, then apologises and ends when it stays down', async () => {
    const h = createHarness();
    await h.advance(4000);
    expect(h.stt.opened).toBe(1);
    h.stt.fail();
    await h.advance(100);
    expect(h.stt.opened).toBe(2);
    await h.advance(3000); // the new session works: the next failure gets a fresh budget
    expect(h.ended).toBe(false);
    h.stt.failOpens = 1000;
    h.stt.fail();
    await h.advance(RECONNECT_BUDGET_MS - 100);
    expect(h.stt.opened).toBeGreaterThan(3); // retried with backoff…
    expect(h.tts.texts).not.toContain("I'm sorry, I'm having technical difficulties.");
    await h.advance(200); // …until the budget ran out
    expect(h.tts.texts).toContain("I'm sorry, I'm having technical difficulties.");
    await h.advance(15_000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: stt' });
  });

  it('retries a failing LLM once, then apologises and ends', async () => {
    const h = createHarness({ reply: () => ({ error: new Error('503') }) });
    await h.advance(4000);
    void h.stt.play(saySentence('hello there'));
    await h.advance(20_000);
    await h.done;
    expect(h.llm.requests).toHaveLength(2);
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: llm' });
  });

  it('cuts an LLM that never answers at the first-token budget, then apologises and ends', async () => {
    // The first attempt hangs far past the budget; the budget (not the adapter's own timeout) ends the wait.
    const h = createHarness({ reply: () => ({ text: 'Too late.' }), llm: { firstTokenMs: 60_000 } });
    await h.advance(4000);
    void h.stt.play(saySentence('hello there'));
    await h.advance(FIRST_TOKEN_BUDGET_MS + 5000);
    await h.done;
    expect(h.llm.requests).toHaveLength(1);
    expect(h.tts.texts).toContain("I'm sorry, I'm having technical difficulties.");
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: llm' });
  });

  it('cuts a stream that stalls after its first words: what was said stands and the call goes on', async () => {
    // The connection stalls for ten minutes after "Let me see."; without the idle cut the caller would sit in
    // silence until the call's maximum length.
    const h = createHarness({ reply: (_r, i) => (i === 0 ? { text: 'Let me see. ', stallMs: 600_000 } : 'We open at nine.') });
    await h.advance(4000);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(3000 + STREAM_IDLE_MS);
    expect(h.llm.aborted).toBe(1);
    expect(h.texts()).toContain('bot: Let me see.');
    expect(h.ended).toBe(false);
    void h.stt.play(saySentence('when do you open tomorrow'));
    await h.advance(10_000);
    expect(h.texts().at(-1)).toBe('bot: We open at nine.');
  });

  it('recovers when an LLM call fails once', async () => {
    const h = createHarness({ reply: (_r, i) => (i === 0 ? { error: new Error('reset') } : 'Hello again.') });
    await h.advance(4000);
    void h.stt.play(saySentence('hello there'));
    await h.advance(10_000);
    expect(h.texts().at(-1)).toBe('bot: Hello again.');
    expect(h.ended).toBe(false);
  });

  it('runs tools and calls the LLM again with their results', async () => {
    const lookup: Tool = {
      spec: { name: 'lookup_price', description: 'price', parameters: { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] } },
      run: async (args) => ({ content: { item: args.item, price: 80 } }),
    };
    const h = createHarness({
      tools: [lookup],
      reply: (req, i) => {
        if (i === 0) return { text: 'Let me check. ', toolCalls: [{ id: 'c1', name: 'lookup_price', arguments: { item: 'cleaning' } }] };
        const toolMsg = req.messages.at(-1);
        return toolMsg?.role === 'tool' ? `A cleaning costs ${JSON.parse(toolMsg.content).price} dollars.` : 'Hmm.';
      },
    });
    await h.advance(4000);
    void h.stt.play(saySentence('how much is a cleaning'));
    await h.advance(10_000);
    expect(h.llm.requests).toHaveLength(2);
    expect(h.llm.requests[1]?.tools.map((t) => t.name)).toContain('lookup_price');
    expect(h.texts().at(-1)).toBe('bot: Let me check. A cleaning costs 80 dollars.');
  });

  it('end_call says goodbye, then hangs up', async () => {
    const h = createHarness({ reply: () => ({ toolCalls: [{ id: 'e1', name: 'end_call', arguments: { reason: 'caller said goodbye' } }] }) });
    await h.advance(4000);
    void h.stt.play(saySentence('thanks bye'));
    await h.advance(10_000);
    await h.done;
    expect(h.texts().at(-1)).toBe('bot: Thank you for calling. Goodbye!');
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'bot_end_call: caller said goodbye' });
    expect(h.transport.hangupReason).toBe('bot_end_call: caller said goodbye');
  });

  it('transfer_call hands the call to the configured number after telling the caller', async () => {
    const h = createHarness({
      config: { transferNumber: '+15557654321' },
      reply: () => ({ toolCalls: [{ id: 't1', name: 'transfer_call', arguments: { reason: 'wants a human' } }] }),
    });
    await h.advance(4000);
    void h.stt.play(saySentence('let me talk to a person'));
    await h.advance(10_000);
    await h.done;
    expect(h.transport.transferredTo).toBe('+15557654321');
    expect(h.texts()).toContain('system: Transfer to +15557654321 requested: wants a human');
    expect(h.texts().at(-1)).toBe('bot: Please hold, I am transferring you to a colleague now.');
    expect(h.recorder.ended?.reason).toBe('transferred');
  });

  it('transfer_call without a configured number says so and keeps the call', async () => {
    const h = createHarness({ reply: (_r, i) => (i === 0 ? { toolCalls: [{ id: 't1', name: 'transfer_call', arguments: { reason: 'x' } }] } : 'Ok.') });
    await h.advance(4000);
    void h.stt.play(saySentence('operator please'));
    await h.advance(10_000);
    expect(h.transport.transferredTo).toBeNull();
    expect(h.texts().at(-1)).toContain("I can't transfer you right now");
    expect(h.ended).toBe(false);
  });

  it('passes DTMF digits and typed text to the agent as caller turns', async () => {
    const h = createHarness({ reply: () => 'Got it.' });
    await h.advance(4000);
    h.transport.dtmf('1');
    await h.advance(3000);
    expect(h.llm.lastUserText()).toBe('[keypad] 1');
    // A number keyed in is one turn: digits are collected until '#' (or a pause).
    for (const d of '2125550100#') h.transport.dtmf(d);
    await h.advance(3000);
    expect(h.llm.lastUserText()).toBe('[keypad] 2125550100');
    h.transport.text('I typed this');
    await h.advance(3000);
    expect(h.llm.lastUserText()).toBe('I typed this');
    expect(h.texts()).toContain('caller: [keypad] 1');
  });

  it('paces a flood of typed text: a person\'s pace goes through, the rest leaves together as one turn', async () => {
    const h = createHarness({ reply: () => 'Got it.' });
    await h.advance(4000);
    const before = h.llm.requests.length;
    for (let i = 0; i < 40; i++) h.transport.text(`message ${i}`);
    await h.advance(100);
    // The burst goes through as it comes (each turn interrupting the last)…
    expect(h.llm.requests.length - before).toBe(TYPED_BURST);
    await h.advance(TYPED_EVERY_MS + 3000);
    // …and the other 35 messages reach the agent as one turn, every one of them, in order.
    expect(h.llm.requests.length - before).toBe(TYPED_BURST + 1);
    const held = h.llm.lastUserText();
    expect(held.split('\n')).toEqual(Array.from({ length: 40 - TYPED_BURST }, (_, i) => `message ${i + TYPED_BURST}`));
    expect(h.ended).toBe(false);
  });

  it('ends cleanly when the caller hangs up mid-answer', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(6000);
    h.transport.close('stop');
    await h.advance(3000);
    await h.done;
    expect(h.transport.hangupReason).toBeNull();
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'caller_hangup: stop' });
    expect(h.recorder.turns.at(-1)).toMatchObject({ role: 'bot', interrupted: true });
  });

  it('stops pulling TTS audio while the transport is backed up', async () => {
    const h = createHarness();
    h.transport.pendingBytes = 1_000_000;
    await h.advance(2000);
    const sentWhileBlocked = h.transport.count('audio');
    expect(sentWhileBlocked).toBe(0);
    h.transport.pendingBytes = 0;
    await h.advance(5000);
    expect(h.transport.count('audio')).toBeGreaterThan(0);
  });

  it('retries a phrase when TTS fails, and ends the call when TTS stays down past the reconnect budget', async () => {
    const h = createHarness({ reply: () => 'We open at nine.' });
    await h.advance(4000);
    h.tts.failTurns = 1;
    void h.stt.play(saySentence('when do you open'));
    await h.advance(6000);
    expect(h.texts().at(-1)).toBe('bot: We open at nine.');
    h.tts.failTurns = 1000;
    void h.stt.play(saySentence('and on sunday'));
    await h.advance(RECONNECT_BUDGET_MS + 3000);
    await h.done;
    expect(h.recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: tts' });
    expect(h.transport.hangupReason).toBe('provider_failure: tts');
    expect(h.texts()).toContain('caller: and on sunday');
  });

  it('end() from outside says a short goodbye, then hangs up', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(4000);
    void h.session.end('server_shutdown');
    await h.advance(10);
    expect(h.transport.count('clear')).toBe(1);
    expect(h.ended).toBe(false);
    await h.advance(10_000);
    await h.done;
    expect(h.tts.texts.at(-1)).toBe('Goodbye!');
    expect(h.transport.hangupReason).toBe('server_shutdown');
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'server_shutdown' });
  });

  it('end(reason, { immediate: true }) stops the call at once', async () => {
    const h = createHarness({ reply: () => LONG_ANSWER });
    await h.advance(4000);
    void h.stt.play(saySentence('what are your hours'));
    await h.advance(2000);
    void h.session.end('server_shutdown', { immediate: true });
    await h.advance(10);
    await h.done;
    expect(h.transport.hangupReason).toBe('server_shutdown');
    expect(h.recorder.ended).toEqual({ status: 'completed', reason: 'server_shutdown' });
    expect(h.tts.closed).toBe(1);
  });
});
