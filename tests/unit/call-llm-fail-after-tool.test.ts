/**
 * The LLM fails in a later round of a turn (after a tool round whose words are already playing): the call
 * apologises and ends, but the turn that was speaking is stopped first — its audio does not go on under the
 * apology, and what the caller heard of it is in the transcript.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS, type BotConfig } from '../../src/bots/config-schema.js';
import { CallSession } from '../../src/call/call-session.js';
import { MemoryCallRecorder } from '../../src/call/recorder.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, Tool } from '../../src/call/tool-types.js';
import { silentLogger } from '../../src/call/types.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { saySentence, ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';

const FIRST_ROUND = 'Let me check that for you. It will take me a moment to look it up in our calendar. Please stay on the line.';
const APOLOGY = "I'm sorry, I'm having technical difficulties.";

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
    const transport = new MemoryTransport();
    const stt = new ScriptedStt();
    const llm = new ScriptedLlm((_r, i) =>
      i === 0 ? { text: FIRST_ROUND, toolCalls: [{ id: 'c1', name: 'lookup', arguments: {} }] } : { error: new Error('503') },
      { firstTokenMs: 1500 },
    );
    const tts = new ScriptedTts();
    const recorder = new MemoryCallRecorder();
    const config: BotConfig = { greeting: 'Hello.', systemPrompt: 'Be brief.' };
    const context: CallContext = {
      callId: 'call-1', botId: 'bot-1', companyId: 'company-1', callerNumber: '+15550001111',
      bot: { id: 'bot-1', name: 'Acme', language: 'en', config },
    };
    const session = new CallSession({
      transport, stt, llm, tts, tools: new ToolRegistry([lookup]), context, recorder,
      limits: { ...DEFAULT_LIMITS }, systemPrompt: config.systemPrompt, language: 'en', log: silentLogger, callerVoice: null,
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
