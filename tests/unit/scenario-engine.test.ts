import { describe, expect, it } from 'vitest';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import type { Playback } from '../../src/call/playback.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, CallControl, Tool, ToolResult } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { systemClock } from '../../src/call/types.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';
import type { ChatMessage } from '../../src/providers/types.js';

const SLOTS = [
  { start: '2026-11-26T15:00:00.000Z', label: 'Thursday at 3 PM' },
  { start: '2026-11-26T16:00:00.000Z', label: 'Thursday at 4 PM' },
];

function tool(name: string, run: (args: Record<string, unknown>) => ToolResult): Tool & { calls: Record<string, unknown>[] } {
  const calls: Record<string, unknown>[] = [];
  return {
    calls,
    spec: { name, description: name, parameters: { type: 'object', properties: {} } },
    run: async (args) => {
      calls.push(args);
      return run(args);
    },
  };
}

/** Runs the real agent-turn loop (LLM → tools → LLM) against the engine, collecting what would be spoken. */
function conversation(language: 'en' | 'ru', tools: Tool[], config: Partial<CallContext['bot']['config']> = {}) {
  const history: ChatMessage[] = [];
  const registry = new ToolRegistry([...builtInTools(), ...tools]);
  const engine = new ScenarioEngine({ language });
  const control = { ended: null as string | null, transferred: null as string | null };
  const callControl: CallControl = {
    endCall: (reason) => void (control.ended = reason),
    transferCall: async (to) => void (control.transferred = to),
  };
  const context: CallContext = {
    callId: 'c', botId: 'b', companyId: 'co', callerNumber: null,
    bot: { id: 'b', name: 'Acme', language, config: { greeting: 'Hi', systemPrompt: '', ...config } },
  };
  return {
    history,
    control,
    async say(text: string): Promise<string> {
      history.push({ role: 'user', content: text });
      const phrases: string[] = [];
      const playback = { say: (p: string) => void phrases.push(p.trim()), noteUnspoken: () => {} } as unknown as Playback;
      const result = await runAgentTurn({
        llm: engine, tools: registry, context, control: callControl, system: '', history, userText: text,
        playback, signal: new AbortController().signal, clock: systemClock,
      });
      history.push({ role: 'assistant', content: result.finalText });
      return phrases.join(' ');
    },
  };
}

describe('ScenarioEngine (en)', () => {
  it('answers a call-screening assistant with the campaign screening tool (en, ru)', async () => {
    for (const [language, words] of [
      ['en', 'The person you are calling is using a screening service. Please say your name and the reason for your call.'],
      ['ru', 'Абонент использует помощника. Назовите себя и причину звонка.'],
    ] as const) {
      const screening = tool('answer_call_screening', () => ({ content: { ok: true }, say: 'Hello, this is Ava from Acme, calling about your appointment.' }));
      const c = conversation(language, [screening]);
      expect(await c.say(words)).toBe('Hello, this is Ava from Acme, calling about your appointment.');
      expect(screening.calls).toHaveLength(1);
    }
  });

  it('honours "stop calling me" (en, ru) with the do_not_call tool, which speaks and ends', async () => {
    for (const [language, words] of [['en', 'Please stop calling me, I am not interested'], ['ru', 'Больше не звоните мне, пожалуйста']] as const) {
      const dnc = tool('do_not_call', () => ({ content: { ok: true, ending: true }, say: language === 'en' ? 'Sorry to bother you. Goodbye.' : 'Извините. До свидания.' }));
      const c = conversation(language, [dnc]);
      const said = await c.say(words);
      expect(dnc.calls).toHaveLength(1);
      expect(dnc.calls[0]!.reason).toBe(words);
      expect(said).toBe(language === 'en' ? 'Sorry to bother you. Goodbye.' : 'Извините. До свидания.');
    }
  });

  // How people actually ask, in either word order: every one of these must list the number, whatever the bot was doing.
  const STOP_CALLING = {
    en: [
      'Put me on your do not call list', 'Add me to your do-not-call list', "Don't call again", 'Please remove my number', 'Take my number off your list',
      'Lose my number', 'Stop ringing me', "Don't ring me again", 'I do not want any more calls', "I don't want you to call me anymore",
      'Quit calling me', 'Unsubscribe me', 'Please delete my number', 'Take me off the list', 'Remove me from your database', 'No more calls, please',
    ],
    ru: [
      'Больше мне не звоните', 'Мне больше не звоните', 'Прекратите звонить', 'Прекратите мне звонить', 'Не надо мне звонить', 'Хватит мне звонить',
      'Удалите меня из базы', 'Уберите мой номер из базы', 'Вычеркните меня из списка', 'Прошу больше не звонить', 'Не беспокойте меня больше',
      'Внесите меня в стоп-лист', 'Удалите меня из списка обзвона', 'Не звоните на этот номер',
    ],
  } as const;
  // What a callee may say that is no such request: the bot carries on.
  const NOT_STOP_CALLING = {
    en: ['Can you call me back tomorrow?', 'Please call me again at 5', 'Take me off the waiting list for Friday', 'Remove my booking', 'Why did you call me?'],
    ru: ['Перезвоните мне завтра', 'Позвоните мне позже', 'Уберите меня с записи на пятницу', 'Почему мастер не звонит?', 'Удалите мою запись'],
  } as const;

  it('honours every common way of asking not to be called again (en, ru), and nothing else', async () => {
    const missed: string[] = [];
    for (const language of ['en', 'ru'] as const) {
      for (const words of STOP_CALLING[language]) {
        const dnc = tool('do_not_call', () => ({ content: { ok: true, ending: true }, say: 'Goodbye.' }));
        await conversation(language, [dnc]).say(words);
        if (dnc.calls.length !== 1) missed.push(words);
      }
    }
    expect(missed).toEqual([]);
    const listed: string[] = [];
    for (const language of ['en', 'ru'] as const) {
      for (const words of NOT_STOP_CALLING[language]) {
        const dnc = tool('do_not_call', () => ({ content: { ok: true, ending: true }, say: 'Goodbye.' }));
        await conversation(language, [dnc]).say(words);
        if (dnc.calls.length > 0) listed.push(words);
      }
    }
    expect(listed).toEqual([]);
  });

  it('ends the call on goodbye and transfers on request', async () => {
    const c = conversation('en', [], { transferNumber: '+15557654321' });
    expect(await c.say('Can I speak to a real person?')).toBe('Please hold, I am transferring you to a colleague now.');
    expect(c.control.transferred).toBe('+15557654321');
    expect(await c.say('Okay, thanks, bye!')).toBe('Thank you for calling. Goodbye!');
    expect(c.control.ended).toBe('caller said goodbye');
  });

  it('walks a booking: service, time, availability, choice, name, booking, read-back', async () => {
    const check = tool('check_availability', () => ({ content: { slots: SLOTS, service: 'haircut', timezone: 'UTC' } }));
    const book = tool('book_appointment', (a) => ({ content: { booking_id: 'bk1', start: a.when, label: SLOTS.find((s) => s.start === a.when)?.label } }));
    const c = conversation('en', [check, book]);
    expect(await c.say("Hi, I'd like to book a haircut.")).toBe('What day and time would suit you?');
    expect(await c.say('Tomorrow at 3 pm')).toBe('One moment, let me check. I can offer Thursday at 3 PM or 4 PM. Which one would you like?');
    expect(check.calls).toEqual([{ service: 'haircut', when: 'tomorrow at 3 pm' }]);
    expect(await c.say('The second one, please.')).toBe('May I have your name, please?');
    expect(await c.say('Anna Lee')).toBe("You're booked for Thursday at 4 PM, Anna Lee. Is there anything else I can help with?");
    expect(book.calls).toEqual([{ service: 'haircut', when: SLOTS[1]!.start, customer_name: 'Anna Lee' }]);
    // The booking is done: a question now is a question, not another booking step.
    expect(await c.say('No thanks, goodbye')).toBe('Thank you for calling. Goodbye!');
  });

  it('takes everything in one sentence and offers alternatives when the slot was just taken', async () => {
    const check = tool('check_availability', () => ({ content: { slots: SLOTS } }));
    const book = tool('book_appointment', () => ({ content: { error: 'slot_taken', alternatives: [{ start: '2026-11-26T17:00:00.000Z', label: 'Thursday at 5 PM' }] } }));
    const c = conversation('en', [check, book]);
    await c.say('My name is John Smith and I need to book a cleaning tomorrow morning');
    expect(check.calls[0]).toEqual({ service: 'cleaning', when: 'tomorrow morning' });
    expect(await c.say('Yes, the first one')).toBe("I'm sorry, that time was just taken. I can offer Thursday at 5 PM. Which one would you like?");
    expect(book.calls[0]).toMatchObject({ customer_name: 'John Smith', when: SLOTS[0]!.start });
  });

  it('answers questions with the relevant sentence of the best chunk (no file name), or offers to take details', async () => {
    const search = tool('search_knowledge', (a) => ({
      content: {
        results: String(a.query).includes('cleaning')
          ? [{ text: 'Prices. A dental cleaning costs 80 dollars and takes 45 minutes. Whitening costs 200 dollars.', source: 'price-list.pdf', page: 2, score: 0.8 }]
          : [],
      },
    }));
    const c = conversation('en', [search]);
    expect(await c.say('How much does a cleaning cost?')).toBe('A dental cleaning costs 80 dollars and takes 45 minutes.');
    expect(await c.say('Do you have parking?')).toBe(
      "I'm sorry, I don't have that information. I can take your details and have someone call you back. What name should I leave for the callback?");
    const bare = conversation('en', []);
    expect(await bare.say('Do you have parking?')).toContain("I don't have that information");
  });

  it('without booking tools collects the details and says honestly that someone will confirm', async () => {
    const c = conversation('en', []);
    expect(await c.say('I want to make an appointment')).toBe('What would you like to book?');
    expect(await c.say('A check-up')).toBe('What day and time would suit you?');
    expect(await c.say('Friday at 10 am')).toBe('May I have your name, please?');
    expect(await c.say("It's Maria")).toContain("I can't book this directly right now, but I've noted check-up, friday at 10 am, Maria");
  });
});

describe('ScenarioEngine (ru)', () => {
  it('books in Russian', async () => {
    const check = tool('check_availability', () => ({ content: { slots: [{ start: SLOTS[0]!.start, label: 'четверг, 15:00' }] } }));
    const book = tool('book_appointment', () => ({ content: { booking_id: 'bk2', start: SLOTS[0]!.start, label: 'четверг, 15:00' } }));
    const c = conversation('ru', [check, book]);
    expect(await c.say('Здравствуйте, хочу записаться на стрижку завтра в 15:00')).toBe('Минуту, сейчас проверю. Могу предложить четверг, 15:00. Какое время вам подходит?');
    expect(check.calls[0]).toEqual({ service: 'стрижку', when: 'завтра в 15:00' });
    expect(await c.say('Да, подходит')).toBe('Как вас зовут?');
    expect(await c.say('Меня зовут Анна')).toBe('Анна, вы записаны на четверг, 15:00. Могу ещё чем-нибудь помочь?');
    expect(book.calls[0]).toEqual({ service: 'стрижку', when: SLOTS[0]!.start, customer_name: 'Анна' });
  });

  it('transfers, answers from knowledge and says goodbye in Russian', async () => {
    const search = tool('search_knowledge', () => ({ content: { results: [{ text: 'Клиника работает с 9 до 18 по будням. В субботу с 10 до 15.', source: 'Часы работы', score: 0.7 }] } }));
    const c = conversation('ru', [search]);
    expect(await c.say('Соедините меня с оператором')).toContain('не могу перевести звонок');
    expect(await c.say('Во сколько вы работаете в субботу?')).toBe('Клиника работает с 9 до 18 по будням. В субботу с 10 до 15.');
    expect(await c.say('Спасибо, до свидания')).toBe('Спасибо за звонок. До свидания!');
    expect(c.control.ended).toBe('caller said goodbye');
  });

  it('lists the services when the caller names one the business does not offer', async () => {
    let calls = 0;
    const check = tool('check_availability', (a) =>
      calls++ === 0 ? { content: { error: 'unknown_service', services: ['Haircut', 'Beard trim'] } } : { content: { slots: SLOTS, service: a.service } });
    const c = conversation('en', [check, tool('book_appointment', () => ({ content: {} }))]);
    expect(await c.say('Can I book a massage tomorrow at 3 pm')).toBe('One moment, let me check. We offer Haircut and Beard trim. What would you like to book?');
    expect(await c.say('A beard trim then')).toContain('I can offer Thursday at 3 PM');
    expect(check.calls[1]).toEqual({ service: 'Beard trim', when: 'tomorrow at 3 pm' });
  });

  it('understands a pick among alternatives that a booking tool read out itself', async () => {
    let n = 0;
    const check = tool('check_availability', () => ({ content: { slots: [SLOTS[0]] } }));
    const book = tool('book_appointment', (a) =>
      n++ === 0
        ? { content: { error: 'slot_taken', alternatives: SLOTS }, say: 'Sorry, that time is taken. I can offer Thursday at 3 PM, or Thursday at 4 PM.' }
        : { content: { booking_id: 'bk9', start: a.when, label: 'Thursday at 4 PM' }, say: "Done, you're booked for Thursday at 4 PM." });
    const c = conversation('en', [check, book]);
    await c.say("I'm Bob Stone, I'd like to book a massage tomorrow at 3 pm");
    expect(await c.say('Yes please')).toBe('Sorry, that time is taken. I can offer Thursday at 3 PM, or Thursday at 4 PM.');
    expect(await c.say('The second one')).toBe("Done, you're booked for Thursday at 4 PM.");
    expect(book.calls[1]).toEqual({ service: 'massage', when: SLOTS[1]!.start, customer_name: 'Bob Stone' });
  });
});

describe('booking wishes without the word "book"', () => {
  it('a named service with a time or a "would like" starts a booking; number-word times are read', async () => {
    const { wantsService, extractWhen } = await import('../../src/scenario/intents.js');
    expect(wantsService('i would like to but the haircut tomorrow at three pm', ['Haircut', 'Coloring'])).toBe(true);
    expect(wantsService('a haircut on friday', ['Haircut'])).toBe(true);
    expect(wantsService('how much is a haircut', ['Haircut'])).toBe(false);
    expect(wantsService('i would like to know your hours', ['Haircut'])).toBe(false);
    expect(extractWhen('tomorrow at three pm')).toBe('tomorrow at three pm');
  });
});

describe('a goodbye closes what the caller says', () => {
  it('a booking whose confirmation the caller cut off is told on the next turn, not left unsaid', async () => {
    const booked = "You're booked for Tap repair tomorrow at 10:00 AM. Is there anything else I can help with?";
    const flow = tool('booking_flow', () => ({ content: { task: 'book', stage: 'done', next: null, say: booked }, say: booked }));
    const search = tool('search_knowledge', () => ({ content: { answer: null, results: [] } }));
    const cutOff = async (then: string) => {
      const c = conversation('en', [flow, search]);
      await c.say('yes');
      // The caller spoke over the confirmation and the interruption was committed: the session marks the result so
      // (SpokenToolRounds.settle), and the next answer must tell them what was done.
      const result = c.history.find((m) => m.role === 'tool')!;
      result.content = JSON.stringify({ ...JSON.parse(result.content), not_yet_told_to_caller: booked });
      c.history.at(-1)!.content = '';
      return { c, reply: await c.say(then) };
    };
    // Was "I'm sorry, I don't have that information…": the caller never heard whether they were booked.
    expect((await cutOff('wait, what time was that?')).reply).toBe(booked);
    expect((await cutOff('hello?')).reply).toBe(booked);
    const bye = await cutOff('ok thanks bye');
    expect(bye.reply).toContain(booked);
    expect(bye.c.control.ended).toBe('caller said goodbye');
    // Told once: the turn after says what it would have said anyway.
    const { c } = await cutOff('hello?');
    expect(await c.say('hello?')).not.toContain(booked);
  });

  it('ends on goodbye words at the end, not on "bye" heard at the start of a request', async () => {
    for (const bye of ['Thanks, goodbye', 'okay bye then', 'that is all, thank you', 'No thanks', 'bye', 'Спасибо, до свидания', 'ну всё, пока', 'это всё, спасибо']) {
      const c = conversation(/[а-я]/i.test(bye) ? 'ru' : 'en', []);
      await c.say(bye);
      expect(c.control.ended, bye).toBe('caller said goodbye');
    }
    // How pocketsphinx hears "Hi, I'd like a haircut tomorrow at three pm": the call goes on.
    for (const request of ["bye i'd like a haircut tomorrow at three pm", 'bye can you tell me your prices', 'пока не знаю, какие у вас цены']) {
      const c = conversation(/[а-я]/i.test(request) ? 'ru' : 'en', []);
      await c.say(request);
      expect(c.control.ended ?? null, request).toBeNull();
    }
  });
});
