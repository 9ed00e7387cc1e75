/**
 * The model decides when a call is over (end_call) or goes to a person (transfer_call), and it can be wrong. A
 * caller who speaks over its goodbye or hand-off — words past the barge-in bar, or typed — is not done: the call
 * goes on and the model answers them. A backchannel ("bye", "okay") over the goodbye is not a turn: the call ends
 * as the model asked. The call's own ends (silence, shutdown) keep a goodbye nobody interrupts (call-last-words).
 * Fake time, whole CallSession.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isAcknowledgement, isClosingWords } from '../../src/call/closing-words.js';
import { endCallTool } from '../../src/call/tools/end-call.js';
import { transferCallTool } from '../../src/call/tools/transfer-call.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { saySentence, ScriptedLlm, type ScriptedReply } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const END = { id: 'e1', name: 'end_call', arguments: { reason: 'caller is done' } };
const TRANSFER = { id: 't1', name: 'transfer_call', arguments: { reason: 'caller asked for a person' } };

function call(reply: (request: LlmRequest, index: number) => ScriptedReply) {
  const parts = testCallSession({
    llm: new ScriptedLlm(reply),
    tools: [endCallTool, transferCallTool],
    config: { greeting: 'Hello, how can I help?', systemPrompt: 'Be brief.', transferNumber: '+14155550123' },
    limits: { silenceRepromptSec: 120, silenceHangupSec: 600 },
  });
  let ended = false;
  void parts.session.start().then(() => (ended = true));
  return { ...parts, advance: (ms: number) => vi.advanceTimersByTimeAsync(ms), get ended() { return ended; } };
}

/** The model's reply to the caller's last words (after a tool round: nothing more to say). */
const byCaller = (replies: Record<string, ScriptedReply>) => (r: LlmRequest): ScriptedReply =>
  r.messages.at(-1)?.role === 'tool' ? '' : (replies[lastUser(r) ?? ''] ?? 'Sure.');
/** The greeting plays out; the caller says `words`; the bot's answer (a goodbye, a hand-off) has started to play. */
async function untilAnswering(h: ReturnType<typeof call>, words: string): Promise<void> {
  await h.advance(4000);
  void h.stt.play(saySentence(words));
  await h.advance(2600);
}
const lastUser = (r: LlmRequest) => r.messages.filter((m) => m.role === 'user').at(-1)?.content;
const systemNotes = (h: ReturnType<typeof call>) => h.recorder.turns.filter((t) => t.role === 'system').map((t) => t.text);

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => void vi.useRealTimers());

describe('the model\'s goodbye', () => {
  it('is taken back by a caller who speaks over it: the call goes on, and their words are answered', async () => {
    const h = call(byCaller({ 'thanks that is all': { toolCalls: [END] }, 'oh wait what time do you close tomorrow': 'We close at six tomorrow.', 'great thank you goodbye': { toolCalls: [{ ...END, id: 'e2' }] } }));
    await untilAnswering(h, 'thanks that is all'); // the caller's turn closes; the goodbye starts playing
    expect(h.tts.texts.some((t) => t.includes('Goodbye'))).toBe(true);
    void h.stt.play(saySentence('oh wait what time do you close tomorrow', { wordMs: 200 }));
    await h.advance(6000);
    expect(h.ended).toBe(false);
    expect(lastUser(h.llm.requests.at(-1)!)).toBe('oh wait what time do you close tomorrow');
    expect(h.recorder.turns.at(-1)).toMatchObject({ role: 'bot', text: 'We close at six tomorrow.' });
    expect(systemNotes(h)).toContain('End of call withdrawn: the caller spoke over the goodbye');
    expect(h.transport.hangupReason).toBeNull();

    // Asked again, once the caller is done, the model's goodbye plays out and the call ends.
    void h.stt.play(saySentence('great thank you goodbye'));
    await h.advance(10_000);
    expect(h.ended).toBe(true);
    expect(h.recorder.ended?.reason).toBe('bot_end_call: caller is done');
  });

  it('is taken back by typed words too', async () => {
    const h = call(byCaller({ 'thanks that is all': { toolCalls: [END] }, 'actually I need to move my booking': 'Of course, what is the new date?' }));
    await untilAnswering(h, 'thanks that is all');
    h.transport.text('actually I need to move my booking');
    await h.advance(5000);
    expect(h.ended).toBe(false);
    expect(lastUser(h.llm.requests.at(-1)!)).toBe('actually I need to move my booking');
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('plays out over a backchannel, and the call ends as the model asked', async () => {
    const h = call(byCaller({ 'thanks that is all': { toolCalls: [END] } }));
    await untilAnswering(h, 'thanks that is all');
    void h.stt.play(saySentence('okay thank you bye', { wordMs: 200 }));
    await h.advance(10_000);
    expect(h.ended).toBe(true);
    expect(h.recorder.ended?.reason).toBe('bot_end_call: caller is done');
    // Stored, not answered.
    expect(h.recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(['thanks that is all', 'okay thank you bye']);
    expect(h.llm.requests.every((r) => lastUser(r) === 'thanks that is all')).toBe(true);
    expect(systemNotes(h)).not.toContain('End of call withdrawn: the caller spoke over the goodbye');
  });
});

describe('the model\'s hand-off to a person', () => {
  it('is taken back by a caller who speaks over it: nobody is transferred, and the model answers them', async () => {
    const h = call(byCaller({ 'can I talk to someone': { toolCalls: [TRANSFER] }, 'no wait actually just tell me my balance': 'Sure, I can check that for you.' }));
    await untilAnswering(h, 'can I talk to someone');
    expect(h.tts.texts.some((t) => t.includes('transferring you'))).toBe(true);
    void h.stt.play(saySentence('no wait actually just tell me my balance', { wordMs: 200 }));
    await h.advance(8000);
    expect(h.transport.transferredTo).toBeNull();
    expect(lastUser(h.llm.requests.at(-1)!)).toBe('no wait actually just tell me my balance');
    expect(systemNotes(h)).toContain('Transfer withdrawn: the caller spoke over it');
    expect(h.ended).toBe(false);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('goes ahead when the caller lets it play', async () => {
    const h = call(byCaller({ 'can I talk to someone': { toolCalls: [TRANSFER] } }));
    await h.advance(4000);
    void h.stt.play(saySentence('can I talk to someone'));
    await h.advance(10_000);
    expect(h.transport.transferredTo).toBe('+14155550123');
  });

  it('goes ahead when the caller only answers it ("okay thanks")', async () => {
    const h = call(byCaller({ 'can I talk to someone': { toolCalls: [TRANSFER] } }));
    await untilAnswering(h, 'can I talk to someone');
    void h.stt.play(saySentence('okay great thanks', { wordMs: 200 }));
    await h.advance(10_000);
    expect(h.transport.transferredTo).toBe('+14155550123');
    expect(h.llm.requests.every((r) => lastUser(r) === 'can I talk to someone')).toBe(true);
  });
});

describe('words that answer a goodbye or a hand-off', () => {
  it('goodbyes and thanks close; a request, a question or a refusal of the transfer does not', () => {
    for (const t of ['bye', 'Bye bye!', 'okay thank you bye', 'thanks, goodbye', 'you too', 'No thank you, that is all', 'спасибо, до свидания', 'и вам тоже', 'пока'])
      expect(isClosingWords(t), t).toBe(true);
    for (const t of ['wait', 'bye I would like a haircut tomorrow', 'what time do you close', 'one more thing', 'подождите', 'а во сколько вы закрываетесь'])
      expect(isClosingWords(t), t).toBe(false);
    for (const t of ['okay', 'great, thanks', 'Thank you so much!', 'хорошо, спасибо']) expect(isAcknowledgement(t), t).toBe(true);
    for (const t of ['no thanks', 'no', 'bye', 'wait, no', 'нет, спасибо']) expect(isAcknowledgement(t), t).toBe(false);
  });
});
