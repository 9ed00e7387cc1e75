import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';
import { saySentence } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const START = '2026-11-26T12:00:00.000Z';
const bookingTools = (): Tool[] => [
  {
    spec: { name: 'check_availability', description: 'slots', parameters: { type: 'object', properties: { service: { type: 'string' }, when: { type: 'string' } } } },
    run: async () => ({ content: { slots: [{ start: START, label: 'четверг, 15:00' }], timezone: 'Europe/Moscow' } }),
  },
  {
    spec: { name: 'book_appointment', description: 'book', parameters: { type: 'object', properties: {}, required: ['service', 'when', 'customer_name'] } },
    run: async (args) => ({ content: { booking_id: 'bk-1', start: args.when, label: 'четверг, 15:00' }, say: `Готово, ${String(args.customer_name)}, вы записаны на четверг, 15:00.` }),
  },
];

describe('CallSession with the scenario engine', () => {
  it('books an appointment in Russian, turn by turn, and ends on goodbye', async () => {
    const { transport, stt, recorder, session } = testCallSession({
      llm: new ScenarioEngine({ language: 'ru', firstTokenMs: 50 }),
      tools: [...builtInTools(), ...bookingTools()],
      config: { greeting: 'Здравствуйте! Салон «Лайм», чем могу помочь?' },
      language: 'ru',
      context: { botName: 'Лайм' },
    });
    const done = session.start();
    await vi.advanceTimersByTimeAsync(5000);
    for (const line of ['Хочу записаться на стрижку завтра в 15:00', 'Да, подходит', 'Меня зовут Ольга', 'Спасибо, до свидания']) {
      void stt.play(saySentence(line));
      await vi.advanceTimersByTimeAsync(7000);
    }
    await done;
    expect(recorder.turns.map((t) => `${t.role}: ${t.text}`)).toEqual([
      'bot: Здравствуйте! Салон «Лайм», чем могу помочь?',
      'caller: Хочу записаться на стрижку завтра в 15:00',
      'bot: Минуту, сейчас проверю. Могу предложить четверг, 15:00. Какое время вам подходит?',
      'caller: Да, подходит',
      'bot: Как вас зовут?',
      'caller: Меня зовут Ольга',
      'bot: Готово, Ольга, вы записаны на четверг, 15:00.',
      'caller: Спасибо, до свидания',
      'bot: Спасибо за звонок. До свидания!',
    ]);
    expect(recorder.ended).toEqual({ status: 'completed', reason: 'bot_end_call: caller said goodbye' });
    expect(transport.hangupReason).toBe('bot_end_call: caller said goodbye');
    // Every answer has its latency breakdown.
    expect(session.turnLatencies).toHaveLength(4);
    for (const l of session.turnLatencies) expect(l.responseMs).toBeGreaterThan(0);
  });
});
