import { describe, expect, it } from 'vitest';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import type { Playback } from '../../src/call/playback.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, CallControl, Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { systemClock } from '../../src/call/types.js';
import { resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { analyzeOffline } from '../../src/outcomes/offline-analyzer.js';
import { callbackDetailsTool } from '../../src/outcomes/callback-details-tool.js';
import { RecognitionContext } from '../../src/providers/stt/recognition-context.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';

const control: CallControl = { endCall: () => {}, transferCall: async () => {} };

function context(callId: string, language: 'en' | 'ru' = 'en'): CallContext & { recognition: RecognitionContext } {
  return {
    callId, botId: 'b', companyId: 'co', callerNumber: null, recognition: new RecognitionContext(),
    bot: { id: 'b', name: 'Acme', language, config: { greeting: 'Hi', systemPrompt: '' } },
  };
}

describe('callback_details tool', () => {
  it('asks for the name, then the number, and tells the recognizer each time; done clears it', async () => {
    const tool = callbackDetailsTool(() => 0);
    const ctx = context('c1');
    const run = (args: Record<string, unknown>) => tool.run(args, ctx, control, new AbortController().signal);
    expect((await run({ need: 'solar panels' })).content).toMatchObject({ next: 'name', need: 'solar panels' });
    expect(ctx.recognition.current()).toBe('name');
    expect((await run({ name: 'Maria Lopez' })).content).toMatchObject({ next: 'phone', name: 'Maria Lopez' });
    expect(ctx.recognition.current()).toBe('phone');
    expect((await run({ phone: 'two one two' })).content).toMatchObject({ next: 'phone', error: 'phone_not_understood' });
    expect(ctx.recognition.current()).toBe('phone');
    expect((await run({ phone: '212 555 0142' })).content).toEqual({ next: 'done', name: 'Maria Lopez', phone: '2125550142', need: 'solar panels' });
    expect(ctx.recognition.current()).toBeNull();
  });

  it('keeps each call apart, takes a number before a name, and forgets a declined offer', async () => {
    const tool = callbackDetailsTool(() => 0);
    const a = context('a');
    const b = context('b');
    const signal = new AbortController().signal;
    await tool.run({ need: 'x' }, a, control, signal);
    expect((await tool.run({ phone: '415 555 0199' }, b, control, signal)).content).toMatchObject({ next: 'name', phone: '4155550199' });
    expect(b.recognition.current()).toBe('name');
    expect((await tool.run({ stop: true }, a, control, signal)).content).toEqual({ stopped: true, next: null });
    expect(a.recognition.current()).toBeNull();
    expect((await tool.run({}, a, control, signal)).content).toMatchObject({ next: 'name', need: null });
  });
});

/** The real agent-turn loop against the scenario engine, recording what the recognizer was told after each turn. */
function conversation(language: 'en' | 'ru', tools: Tool[] = []) {
  const history: ChatMessage[] = [];
  const registry = new ToolRegistry([...builtInTools(), ...tools]);
  const engine = new ScenarioEngine({ language });
  const ctx = context(`call-${Math.random()}`, language);
  return {
    history,
    expected: () => ctx.recognition.current(),
    async say(text: string): Promise<string> {
      history.push({ role: 'user', content: text });
      const phrases: string[] = [];
      const playback = { say: (p: string) => void phrases.push(p.trim()), noteUnspoken: () => {} } as unknown as Playback;
      const result = await runAgentTurn({
        llm: engine, tools: registry, context: ctx, control, system: '', history, userText: text,
        playback, signal: new AbortController().signal, clock: systemClock,
      });
      history.push({ role: 'assistant', content: result.finalText });
      return phrases.join(' ');
    },
  };
}

describe('scenario engine: callback details with the recognizer told what is asked', () => {
  it('expects a name after asking for one, then a number, then nothing; the lines and the lead outcome are unchanged', async () => {
    const c = conversation('en');
    expect(await c.say('Do you install solar panels?')).toBe(
      "I'm sorry, I don't have that information. I can take your details and have someone call you back. What name should I leave for the callback?");
    expect(c.expected()).toBe('name');
    expect(await c.say('Maria Lopez')).toBe('Thank you, Maria Lopez. What number should we call you back on?');
    expect(c.expected()).toBe('phone');
    expect(await c.say('I am not sure')).toContain("I didn't get the whole number");
    expect(c.expected()).toBe('phone');
    expect(await c.say('212 555 0142')).toBe(
      "Thank you, Maria Lopez. I've noted your number, 2 1 2, 5 5 5, 0 1 4 2, and your request: Do you install solar panels. Someone will call you back soon. Is there anything else I can help with?");
    expect(c.expected()).toBeNull();

    const transcript = c.history
      .filter((m) => (m.role === 'user' || m.role === 'assistant') && m.content.trim())
      .map((m) => ({ role: m.role === 'user' ? 'caller' : 'agent', text: m.content }));
    const analysis = analyzeOffline({ language: 'en', transcript, bookingMade: false, callerNumber: null, outcomes: resolveOutcomeConfig(undefined) });
    expect(analysis).toMatchObject({ outcomeType: 'lead', extractedData: { client_name: 'Maria Lopez', client_phone: '2125550142', intent: 'callback: Do you install solar panels' } });
  });

  it('a caller who declines to leave a name: the expectation is dropped (ru)', async () => {
    const c = conversation('ru');
    expect(await c.say('Вы делаете татуировки?')).toContain('На какое имя оставить заявку?');
    expect(c.expected()).toBe('name');
    expect(await c.say('Нет')).toBe('Могу ещё чем-нибудь помочь?');
    expect(c.expected()).toBeNull();
  });
});
