/**
 * One voice at a time: when a turn ends badly — the LLM fails in a later round, after a tool round whose words are
 * already playing; a transfer fails while the caller, on hold, is being answered — the turn that was speaking is
 * stopped first (what the caller heard of it stays in the transcript), then the apology or the notice plays.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { delay, saySentence, ScriptedLlm } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const FIRST_ROUND = 'Let me check that for you. It will take me a moment to look it up in our calendar. Please stay on the line.';
const APOLOGY = "I'm sorry, I'm having technical difficulties.";
const NOTICE = "I'm sorry, I couldn't transfer the call.";
const ANSWER = 'We open at nine on weekdays. On Saturdays we open at ten and close at two. On Sundays we are closed all day.';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LLM failure after a tool round', () => {
  it('stops the turn that was speaking before the apology, and keeps what was heard', async () => {
    const lookup: Tool = {
      spec: { name: 'lookup', description: 'look up', parameters: { type: 'object', properties: {} } },
      run: async () => ({ content: { ok: true } }),
    };
    const { transport, stt, llm, tts, recorder, session } = testCallSession({
      llm: new ScriptedLlm((_r, i) =>
        i === 0 ? { text: FIRST_ROUND, toolCalls: [{ id: 'c1', name: 'lookup', arguments: {} }] } : { error: new Error('503') },
        { firstTokenMs: 1500 },
      ),
      tools: [lookup],
      config: { greeting: 'Hello.', systemPrompt: 'Be brief.' },
    });
    const done = session.start();
    await vi.advanceTimersByTimeAsync(3000);
    void stt.play(saySentence('can I book for tomorrow'));
    // Long enough for the second round to fail twice (retry) while the first round's words still play.
    for (let i = 0; i < 400 && !tts.texts.includes(APOLOGY); i++) await vi.advanceTimersByTimeAsync(50);
    expect(tts.texts).toContain(APOLOGY);
    expect(llm.requests).toHaveLength(3);
    const apologyAt = Date.now();
    await vi.advanceTimersByTimeAsync(20_000);
    await done;
    expect(recorder.ended).toEqual({ status: 'failed', reason: 'provider_failure: llm' });
    // The answer's turn (t2) sent nothing after the apology began: one voice at a time.
    const lateMarks = transport.sent.filter((s) => s.type === 'mark' && s.name.startsWith('t2-') && s.at > apologyAt);
    expect(lateMarks).toEqual([]);
    // What the caller heard of the answer is in the transcript.
    const bot = recorder.turns.filter((t) => t.role === 'bot').map((t) => t.text);
    expect(bot.some((t) => t.startsWith('Let me check that for you.'))).toBe(true);
  });
});

describe('a transfer that fails while the bot answers the caller', () => {
  it('does not speak the notice over the answer', async () => {
    const { transport, stt, llm, tts, recorder, session } = testCallSession({
      llm: new ScriptedLlm((_r, i) => (i === 0 ? { toolCalls: [{ id: 't1', name: 'transfer_call', arguments: { reason: 'wants a human' } }] } : ANSWER)),
      tools: builtInTools(),
      config: { greeting: 'Hello.', systemPrompt: 'Be brief.', transferNumber: '+15557654321' },
      context: { callerNumber: '+15550001111' },
    });
    // Twilio's REST call takes a while, then refuses.
    transport.transfer = async () => {
      await delay(9000);
      throw new Error('transfer refused');
    };
    void session.start();
    await vi.advanceTimersByTimeAsync(2000);
    void stt.play(saySentence('can I talk to a person'));
    // "Please hold…" plays, then the transfer is asked for.
    for (let i = 0; i < 400 && llm.requests.length < 1; i++) await vi.advanceTimersByTimeAsync(50);
    for (let i = 0; i < 400 && !tts.texts.includes('Please hold, I am transferring you to a colleague now.'); i++) await vi.advanceTimersByTimeAsync(50);
    await vi.advanceTimersByTimeAsync(4000);
    // On hold, the caller asks something; the bot answers.
    void stt.play(saySentence('when do you open'));
    for (let i = 0; i < 400 && !tts.texts.includes(NOTICE); i++) await vi.advanceTimersByTimeAsync(50);
    expect(llm.requests).toHaveLength(2);
    expect(tts.texts).toContain(NOTICE);
    const noticeAt = Date.now();
    await vi.advanceTimersByTimeAsync(20_000);
    // The answer's turn (the last one to send a mark before the notice) sent nothing once the notice began.
    const marks = transport.sent.flatMap((s) => (s.type === 'mark' ? [{ turn: s.name.split('-')[0], at: s.at }] : []));
    const answerTurn = marks.filter((m) => m.at < noticeAt).at(-1)?.turn;
    expect(answerTurn).toBeDefined();
    expect(marks.filter((m) => m.at > noticeAt && m.turn === answerTurn)).toEqual([]);
    // What the caller heard of the answer is in the transcript.
    expect(recorder.turns.some((t) => t.role === 'bot' && t.text.startsWith('We open at nine on weekdays.'))).toBe(true);
  });
});
