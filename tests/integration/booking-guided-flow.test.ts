/**
 * The guided booking flow at the text level, in English and Russian, through the real agent-turn loop, the
 * offline scenario engine, the booking tools and the database: every path through booking, cancelling and
 * rescheduling, corrections, taken times, a missing phone on web calls, policy questions vs actions, and the
 * fallback that takes a caller's details.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBookingService } from '../../src/bookings/service.js';
import { bookingTools } from '../../src/bookings/tools.js';
import { listBookings } from '../../src/bookings/repo.js';
import type { BookingConfig } from '../../src/bookings/config-schema.js';
import type { BotConfig } from '../../src/bots/config-schema.js';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import type { Playback } from '../../src/call/playback.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallControl, Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { systemClock } from '../../src/call/types.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { at, callContext, seedBot, seedCall, seedCompany } from './booking-fixtures.js';

let db: TestDatabase;
let clock = 0;
const bookings = createBookingService({ holdSec: 300, now: () => clock });
let company: string;
let botEn: Awaited<ReturnType<typeof seedBot>>;
let botRu: Awaited<ReturnType<typeof seedBot>>;

const handyman: BookingConfig = {
  timezone: 'America/New_York',
  services: [
    { id: 'tv', name: 'TV mounting', aliases: ['TV on the wall', 'TV mounted'], durationMin: 60, price: 90, currency: 'USD' },
    { id: 'tap', name: 'Tap repair', aliases: ['leaky faucet'], durationMin: 60, price: 80, currency: 'USD' },
  ],
  resources: [{ id: 'mike', name: 'Mike', services: ['tv', 'tap'] }],
  hours: {
    mon: { open: '09:00', close: '17:00' }, tue: { open: '09:00', close: '17:00' }, wed: { open: '09:00', close: '17:00' },
    thu: { open: '09:00', close: '17:00' }, fri: { open: '09:00', close: '17:00' },
  },
  slotGranularityMin: 60,
  leadTimeMin: 60,
};

const salonRu: BookingConfig = {
  timezone: 'Europe/Moscow',
  services: [
    { id: 'haircut', name: 'Стрижка', aliases: ['подстричься'], durationMin: 60 },
    { id: 'manicure', name: 'Маникюр', durationMin: 60 },
  ],
  resources: [{ id: 'olga', name: 'Ольга', services: ['haircut', 'manicure'] }],
  hours: {
    mon: { open: '10:00', close: '20:00' }, tue: { open: '10:00', close: '20:00' }, wed: { open: '10:00', close: '20:00' },
    thu: { open: '10:00', close: '20:00' }, fri: { open: '10:00', close: '20:00' }, sat: { open: '10:00', close: '18:00' },
  },
  slotGranularityMin: 15,
  leadTimeMin: 60,
};

const FAQ: Record<string, string> = {
  en: 'Cancellation policy. You can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.',
  ru: 'Правила отмены. Отменить или перенести запись можно бесплатно за 24 часа до визита. При отмене позже взимается штраф 500 рублей.',
};

function faqTool(language: 'en' | 'ru'): Tool {
  return {
    spec: { name: 'search_knowledge', description: 'faq', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
    run: async (args) => {
      const q = String(args.query).toLowerCase();
      const hit = /cancel|reschedul|fee|отмен|policy|правил|late|поздн/.test(q);
      const { spokenAnswer } = await import('../../src/knowledge/spoken-answer.js');
      return { content: { answer: hit ? spokenAnswer(FAQ[language]!, q) : null, results: hit ? [{ text: FAQ[language], source: 'policy.docx', score: 0.5 }] : [] } };
    },
  };
}

async function conversation(bot: { id: string; name: string; language: 'en' | 'ru'; config: BotConfig }, callerNumber: string | null) {
  const callId = await seedCall(db.sql, company, bot.id, callerNumber ?? '');
  const tools = bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql });
  const registry = new ToolRegistry([...builtInTools(), faqTool(bot.language), ...tools]);
  const engine = new ScenarioEngine({ language: bot.language });
  const history: ChatMessage[] = [];
  const control = { ended: null as string | null };
  const callControl: CallControl = { endCall: (reason) => void (control.ended = reason), transferCall: async () => {} };
  const context = callContext(db.sql, company, bot, callId, callerNumber);
  return {
    callId,
    control,
    async say(text: string): Promise<string> {
      history.push({ role: 'user', content: text });
      const phrases: string[] = [];
      const playback = { say: (p: string) => void phrases.push(p.trim()), noteUnspoken: () => {} } as unknown as Playback;
      const result = await runAgentTurn({
        llm: engine, tools: registry, context, control: callControl, system: '', history, userText: text,
        playback, signal: new AbortController().signal, clock: systemClock,
      });
      if (result.finalText) history.push({ role: 'assistant', content: result.finalText });
      return phrases.join(' ');
    },
    bookings: () => listBookings(db.sql, company, { limit: 20, callId }),
  };
}

const live = async (callId: string) => (await listBookings(db.sql, company, { limit: 20, callId })).filter((b) => b.status === 'confirmed');

beforeAll(async () => {
  db = await createTestDb();
  company = await seedCompany(db.sql, 'Flows');
  botEn = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: handyman });
  botRu = await seedBot(db.sql, company, 'ru', { greeting: 'Здравствуйте', systemPrompt: '', booking: salonRu });
});
afterAll(async () => db?.close());
beforeEach(async () => {
  clock = at('2026-03-04T08:00'); // Wednesday, 08:00 New York (16:00 Moscow)
  await db.sql`delete from bookings`;
});

describe('guided booking (en)', () => {
  it('fills slots in any order, one question at a time, reads back and books only after a yes (web call: asks the number)', async () => {
    const c = await conversation(botEn, null);
    expect(await c.say("Hi, I'd like to get my TV mounted on the wall")).toBe('What day and time would suit you for the TV mounting?');
    expect(await c.say('Tomorrow at ten in the morning please')).toBe('May I have your name, please?');
    expect(await c.say('My name is John Smith')).toBe('What phone number can we reach you on?');
    expect(await c.say('five five five, two one two, three four five six')).toBe(
      'Let me confirm: TV mounting tomorrow at 10:00 AM, for John Smith, phone number 5 5 5, 2 1 2, 3 4 5 6. Shall I book it?');
    expect(await live(c.callId)).toHaveLength(0);
    expect(await c.say('Yes, that is right')).toBe("You're booked for TV mounting tomorrow at 10:00 AM. Thank you, John Smith! Is there anything else I can help with?");
    const [b] = await live(c.callId);
    expect(b).toMatchObject({ serviceId: 'tv', customerName: 'John Smith', customerPhone: '+15552123456' });
    expect(b!.start).toBe(new Date(at('2026-03-05T10:00')).toISOString());
  });
});

describe('guided booking: corrections, taken times, phone calls (en)', () => {
  it('takes everything in one sentence on a phone call (number from caller ID), accepts "no, eleven" and books the corrected time', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say("I'm Anna Lee and I need a tap repair tomorrow at 10 am")).toBe(
      'Let me confirm: Tap repair tomorrow at 10:00 AM, for Anna Lee, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect(await c.say('No, eleven')).toBe(
      'Let me confirm: Tap repair tomorrow at 11:00 AM, for Anna Lee, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect(await c.say('Yes')).toContain("You're booked for Tap repair tomorrow at 11:00 AM.");
    const [b] = await live(c.callId);
    expect(b).toMatchObject({ serviceId: 'tap', customerName: 'Anna Lee', customerPhone: '+12125550100' });
    expect(b!.start).toBe(new Date(at('2026-03-05T11:00')).toISOString());
  });

  it('changing the service at the read-back keeps the time: the call\'s own hold is not "fully booked"', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say("I'm Anna Lee and I need a tap repair tomorrow at 10 am")).toMatch(/^Let me confirm: Tap repair tomorrow at 10:00 AM/);
    expect(await c.say('No, make it TV mounting')).toBe(
      'Let me confirm: TV mounting tomorrow at 10:00 AM, for Anna Lee, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect(await c.say('Yes')).toContain("You're booked for TV mounting tomorrow at 10:00 AM.");
    const booked = await live(c.callId);
    expect(booked).toHaveLength(1);
    expect(booked[0]).toMatchObject({ serviceId: 'tv' });
  });

  it('a plain "no" to the read-back asks what to change; a taken time offers the nearest free ones and a pick books', async () => {
    await bookings.reserve(db.sql, { companyId: company, botId: botEn.id, serviceId: 'tv', start: new Date(at('2026-03-05T14:00')), status: 'confirmed', actor: 'api' });
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('Can I book TV mounting?')).toBe('What day and time would suit you for the TV mounting?');
    expect(await c.say('tomorrow at half past two')).toMatch(/^Sorry, (we're fully booked|we can't book) tomorrow at 2:30 PM/);
    const taken = await c.say('tomorrow at two pm');
    expect(taken).toBe("Sorry, we're fully booked tomorrow at 2:00 PM. The nearest free times are tomorrow at 12:00 PM, 1:00 PM or 3:00 PM. Which one suits you?");
    const picked = await c.say('The second one');
    expect(picked).toBe('May I have your name, please?');
    expect(await c.say('Bob Stone')).toMatch(/^Let me confirm: TV mounting tomorrow at .*, for Bob Stone, phone number 2 1 2, 5 5 5, 0 1 0 0\. Shall I book it\?$/);
    expect(await c.say('no')).toBe('What would you like to change: the service, the time, the name or the number?');
    expect(await c.say('make it noon')).toBe(
      'Let me confirm: TV mounting tomorrow at 12:00 PM, for Bob Stone, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect(await c.say('yes please')).toContain("You're booked for TV mounting tomorrow at 12:00 PM.");
    expect(await live(c.callId)).toHaveLength(1);
  });

  it('"the second one" with nothing offered is asked again, not 2:01 PM; minutes to noon are kept', async () => {
    const bot = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: { ...handyman, slotGranularityMin: 15 } });
    const c = await conversation(bot, '+12125550100');
    expect(await c.say('I need a tap repair')).toBe('What day and time would suit you for the Tap repair?');
    // Nothing is on the table to pick from: no time is held for it.
    expect(await c.say('the second one')).toBe("Sorry, I didn't catch that. What day and time would suit you for the Tap repair?");
    expect(await c.bookings()).toEqual([]);
    expect(await c.say('a quarter to noon tomorrow')).toBe('May I have your name, please?');
    expect(await c.say('Anna Lee')).toBe('Let me confirm: Tap repair tomorrow at 11:45 AM, for Anna Lee, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    await c.say('yes');
    const [b] = await live(c.callId);
    expect(b!.start).toBe(new Date(at('2026-03-05T11:45')).toISOString());
  });

  it('a caller who drops the booking mid-way ("never mind", "actually cancel that") is let go: nothing booked, the hold freed', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('I want to book a tap repair tomorrow at 10')).toBe('May I have your name, please?');
    // Not taken for a name ("Never Mind") and read back as a booking one "yes" away.
    expect(await c.say('never mind')).toBe("All right, I've left it as it was. Is there anything else I can help with?");
    expect((await c.bookings()).map((b) => b.status)).toEqual(['cancelled']);
    expect(await c.say('yes')).not.toMatch(/booked/);

    const d = await conversation(botEn, '+12125550100');
    await d.say('I want to book a tap repair tomorrow at 11');
    expect(await d.say('Bob Stone')).toMatch(/^Let me confirm: Tap repair tomorrow at 11:00 AM/);
    // At the read-back "cancel that" is this booking dropped, not a question to read it back again.
    expect(await d.say('actually cancel that')).toBe("All right, I've left it as it was. Is there anything else I can help with?");
    expect(await d.say('yes')).not.toMatch(/booked/);
    expect(await live(d.callId)).toEqual([]);

    const r = await conversation(botRu, '+79161234567');
    await r.say('Хочу записаться на маникюр завтра в 12');
    expect(await r.say('нет, не надо, я передумала')).toBe('Хорошо, оставляю всё как было. Могу ещё чем-нибудь помочь?');
    expect(await live(r.callId)).toEqual([]);
  });

  it('words that drop the booking but change it are a correction: "no wait, cancel that, make it 11" moves the time', async () => {
    const c = await conversation(botEn, '+12125550100');
    await c.say('I want to book a tap repair tomorrow at 10');
    expect(await c.say('Bob Stone')).toMatch(/^Let me confirm: Tap repair tomorrow at 10:00 AM/);
    expect(await c.say('cancel that, make it 11')).toMatch(/^Let me confirm: Tap repair tomorrow at 11:00 AM/);
  });

  it('"never mind" to a cancellation\'s read-back leaves the booking as it was; "cancel it" there drops nothing', async () => {
    await bookings.reserve(db.sql, {
      companyId: company, botId: botEn.id, serviceId: 'tap', start: new Date(at('2026-03-06T10:00')), status: 'confirmed', actor: 'api', customerPhone: '+12125550199',
    });
    const c = await conversation(botEn, '+12125550199');
    expect(await c.say('I want to cancel my appointment')).toMatch(/^Just to confirm: cancel your Tap repair/);
    expect(await c.say('never mind')).toBe("All right, I've left it as it was. Is there anything else I can help with?");
    expect(await c.say('I want to cancel my appointment')).toMatch(/^Just to confirm: cancel your Tap repair/);
    // Not a stop: it is what the caller wants done.
    expect(await c.say('cancel it')).toMatch(/^Done, your Tap repair .* is cancelled/);
  });

  it('a day or a part of the day said before the service is offered once the service is known, not asked for again', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('Can I book something tomorrow afternoon?')).toBe('Which service would you like: TV mounting or Tap repair?');
    expect(await c.say('TV mounting')).toBe('I can offer tomorrow at 12:00 PM, 2:00 PM or 4:00 PM. Which one suits you?');
    expect(await c.say('the second one')).toBe('May I have your name, please?');
  });

  it('a time the business does not book is said to be so, not "taken"; a weekday is confirmed with its date', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('Can I book a tap repair on Saturday at 10 am?')).toMatch(/^Sorry, we can't book on Saturday at 10:00 AM\. The nearest free times are /);
    // Ends at 6 pm, after the 5 pm close.
    expect(await c.say('tomorrow at 5 pm then')).toMatch(/^Sorry, we can't book tomorrow at 5:00 PM\./);
    expect(await c.say('Friday at 10 am')).toBe('May I have your name, please?');
    // "Friday" alone may be this week's or next week's ("next Friday"): the read-back names the date.
    expect(await c.say('Bob Stone')).toBe('Let me confirm: Tap repair on Friday, March 6 at 10:00 AM, for Bob Stone, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect(await c.say('yes')).toContain("You're booked for Tap repair on Friday, March 6 at 10:00 AM.");
  });

  it('a question about the policy is answered, not acted on; the pending question comes back', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('What happens if I cancel at the last minute?')).toBe(
      'You can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.');
    expect(await c.say('I want to book a tap repair')).toBe('What day and time would suit you for the Tap repair?');
    expect(await c.say('Is there a fee if I reschedule?')).toBe(
      'You can cancel or reschedule free of charge up to 24 hours before the visit. Now, back to your appointment. What day and time would suit you for the Tap repair?');
    expect(await c.say('Friday at 9 am')).toBe('May I have your name, please?');
  });

  it('a spoken question (no "?", a filler first) goes to the documents, not into a booking', async () => {
    // How a recognizer writes questions: lower case, no punctuation.
    for (const q of ['and how much is a tap repair', 'can you tell me how much a tv mounting costs', 'so what time do you close on saturday', 'is parking free']) {
      const c = await conversation(botEn, '+12125550100');
      const reply = await c.say(q);
      expect(reply, q).not.toMatch(/What day and time|Would you like to book/);
      expect(reply, q).toMatch(/don't have that information/);
    }
  });

  it('asking whether there is time ("can I come in…?", "do you have anything free…?") is a wish to book, not a question for the documents', async () => {
    const c = await conversation(botEn, '+12125550100');
    expect(await c.say('Can I come in tomorrow afternoon for TV mounting?')).toBe('I can offer tomorrow at 12:00 PM, 2:00 PM or 4:00 PM. Which one suits you?');
    expect(await c.say('the second one')).toBe('May I have your name, please?');
    for (const q of ['do you have anything free on friday morning for a tap repair', 'Is there anything available tomorrow for TV mounting?', 'are you free tomorrow at 3 for a tap repair', 'any openings on friday for a tap repair?']) {
      const d = await conversation(botEn, '+12125550100');
      expect(await d.say(q), q).toMatch(/^(I can offer|May I have your name)/);
    }
    const r = await conversation(botRu, '+79161234567');
    expect(await r.say('А есть свободное время завтра утром на маникюр?')).toMatch(/^Могу предложить завтра в /);
    // Still questions: about opening hours, a facility.
    for (const q of ['are you open on saturday', 'do you have parking', 'is there a bathroom']) {
      const d = await conversation(botEn, '+12125550100');
      expect(await d.say(q), q).toMatch(/don't have that information/);
    }
  });

  it('cancels and reschedules the caller\'s own booking after a read-back; a web caller is asked for the number and name', async () => {
    await bookings.reserve(db.sql, {
      companyId: company, botId: botEn.id, serviceId: 'tap', start: new Date(at('2026-03-06T10:00')), status: 'confirmed', actor: 'api',
      customerName: 'Ann', customerPhone: '+12125550199',
    });
    const web = await conversation(botEn, null);
    expect(await web.say('I need to reschedule my appointment')).toBe('What phone number did you book with?');
    // No caller ID: the number and the name on the booking, before anything is read out.
    expect(await web.say('two one two five five five zero one nine nine')).toBe('And what name is the booking under?');
    expect(await web.say('Ann')).toBe('Your Tap repair on Friday at 10:00 AM. What day and time would you like instead?');
    expect(await web.say('Monday at 3 pm')).toBe('Just to confirm: move your Tap repair on Friday at 10:00 AM to Monday, March 9 at 3:00 PM?');
    expect(await web.say('yes')).toBe('Done, your Tap repair on Friday at 10:00 AM is moved to Monday, March 9 at 3:00 PM. Is there anything else I can help with?');
    const phone = await conversation(botEn, '+12125550199');
    expect(await phone.say('Please cancel my booking')).toBe('Just to confirm: cancel your Tap repair on Monday at 3:00 PM?');
    expect(await phone.say('Yes')).toBe('Done, your Tap repair on Monday at 3:00 PM is cancelled. Is there anything else I can help with?');
    const rows = await listBookings(db.sql, company, { limit: 5, phones: ['+12125550199'] });
    expect(rows.map((r) => r.status)).toEqual(['cancelled']);
    const none = await conversation(botEn, '+12125550111');
    expect(await none.say('When is my appointment?')).toBe("I couldn't find an upcoming appointment. Is there anything else I can help with?");
  });

  it('the fallback takes the details it promised (name, number, need) and never repeats a line verbatim', async () => {
    const c = await conversation(botEn, null);
    expect(await c.say('Hello there')).toBe('Hello! How can I help you today?');
    const first = await c.say('Do you install solar panels?');
    expect(first).toBe("I'm sorry, I don't have that information. I can take your details and have someone call you back. What name should I leave for the callback?");
    expect(await c.say('Maria Lopez')).toBe('Thank you, Maria Lopez. What number should we call you back on?');
    expect(await c.say('it is 212 555 0142')).toBe(
      "Thank you, Maria Lopez. I've noted your number, 2 1 2, 5 5 5, 0 1 4 2, and your request: Do you install solar panels. Someone will call you back soon. Is there anything else I can help with?");
    const a = await c.say('Do you sell paint?');
    const b = await c.say('Do you sell paint?');
    expect(a).not.toBe(b);
  });

  it('a question or a task instead of the detail asked leaves the callback, and is answered', async () => {
    const c = await conversation(botEn, null);
    expect(await c.say('do you install solar panels')).toMatch(/What name should I leave for the callback\?$/);
    // Not a name: a question, answered (here: not in the documents either), never "Thank you, are you open…".
    const asked = await c.say('is there a fee if i reschedule');
    expect(asked).toMatch(/^You can cancel or reschedule free of charge/);
    expect(await c.say('I want to book a tap repair')).toBe('What day and time would suit you for the Tap repair?');
    // Mid-number, the same.
    const d = await conversation(botEn, null);
    await d.say('do you install solar panels');
    expect(await d.say('Maria Lopez')).toBe('Thank you, Maria Lopez. What number should we call you back on?');
    expect(await d.say('what happens if i cancel late')).toMatch(/cancellations? cost 20 dollars/);
  });
});

describe('guided booking (ru)', () => {
  it('books with spoken times and names, asking the number on a web call, confirms in Russian', async () => {
    const c = await conversation(botRu, null);
    expect(await c.say('Здравствуйте, хочу записаться на маникюр')).toBe('На какой день и время записать вас (Маникюр)?');
    expect(await c.say('Завтра в три часа дня')).toBe('Как вас зовут?');
    expect(await c.say('Меня зовут Анна')).toBe('Назовите, пожалуйста, номер телефона для связи.');
    expect(await c.say('восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь')).toBe(
      'Проверим: Маникюр, завтра в 15:00, на имя Анна, телефон 9 1 6, 1 2 3, 4 5 6 7. Записываю?');
    expect(await c.say('Да, всё верно')).toBe('Анна, вы записаны: Маникюр, завтра в 15:00. Могу ещё чем-нибудь помочь?');
    const [b] = await live(c.callId);
    expect(b).toMatchObject({ serviceId: 'manicure', customerName: 'Анна', customerPhone: '+79161234567' });
    expect(b!.start).toBe('2026-03-05T12:00:00.000Z');
  });

  it('"без четверти пять", "в полдень", a correction and a policy question that is not a cancellation', async () => {
    const c = await conversation(botRu, '+79161112233');
    expect(await c.say('Что будет, если я отменю запись в последний момент?')).toBe(
      'Отменить или перенести запись можно бесплатно за 24 часа до визита. При отмене позже взимается штраф 500 рублей.');
    expect(await c.say('Запишите меня на стрижку без четверти пять завтра, меня зовут Ольга')).toBe(
      'Проверим: Стрижка, завтра в 16:45, на имя Ольга, телефон 9 1 6, 1 1 1, 2 2 3 3. Записываю?');
    expect(await c.say('Нет, в полдень')).toBe('Проверим: Стрижка, завтра в 12:00, на имя Ольга, телефон 9 1 6, 1 1 1, 2 2 3 3. Записываю?');
    expect(await c.say('Да')).toContain('вы записаны: Стрижка, завтра в 12:00');
    expect(await live(c.callId)).toHaveLength(1);
  });

  it('a written date without a year ("10.04") and a day of next month ("пятнадцатого следующего месяца") are read, not asked again', async () => {
    const c = await conversation(botRu, '+79161112233');
    expect(await c.say('Запишите меня на стрижку 10.04 в 15:00, меня зовут Ольга')).toBe(
      'Проверим: Стрижка, в пятницу, 10 апреля, в 15:00, на имя Ольга, телефон 9 1 6, 1 1 1, 2 2 3 3. Записываю?');
    expect(await c.say('Нет, пятнадцатого следующего месяца в 11:00')).toBe(
      'Проверим: Стрижка, в среду, 15 апреля, в 11:00, на имя Ольга, телефон 9 1 6, 1 1 1, 2 2 3 3. Записываю?');
    expect(await c.say('Да')).toContain('вы записаны: Стрижка');
    const [b] = await live(c.callId);
    expect(b!.start).toBe('2026-04-15T08:00:00.000Z');
  });

  it('cancels and moves a booking in Russian ("через неделю")', async () => {
    await bookings.reserve(db.sql, {
      companyId: company, botId: botRu.id, serviceId: 'haircut', start: new Date('2026-03-06T08:00:00Z'), status: 'confirmed', actor: 'api',
      customerName: 'Ира', customerPhone: '+79160000001',
    });
    const c = await conversation(botRu, '+79160000001');
    expect(await c.say('Хочу перенести запись')).toBe('Ваша запись: Стрижка, послезавтра в 11:00. На какой день и время её перенести?');
    expect(await c.say('через неделю в 11')).toBe('Уточню: перенести запись (Стрижка, послезавтра в 11:00) на среду, 11 марта, в 11:00?');
    expect(await c.say('да')).toContain('Готово, запись (Стрижка, послезавтра в 11:00) перенесена');
    expect(await c.say('А теперь отмените её, пожалуйста')).toBe('Уточню: отменить запись — Стрижка, в среду, 11 марта, в 11:00?');
    expect(await c.say('Да, отменяйте')).toBe('Готово, запись отменена: Стрижка, в среду, 11 марта, в 11:00. Могу ещё чем-нибудь помочь?');
  });

  it('the fallback takes a name and a number in words', async () => {
    const c = await conversation(botRu, null);
    expect(await c.say('Вы делаете татуировки?')).toBe('К сожалению, у меня нет этой информации. Я могу записать ваши данные, и вам перезвонят. На какое имя оставить заявку?');
    expect(await c.say('Светлана')).toBe('Спасибо, Светлана. По какому номеру вам перезвонить?');
    expect(await c.say('девять один шесть пять пять пять один два три четыре')).toContain('Спасибо, Светлана. Я записал ваш номер: 9 1 6, 5 5 5, 1 2 3 4, и вопрос: Вы делаете татуировки');
  });
});

describe('guided booking: names as a recognizer hears them (en)', () => {
  const PHONE = '+15557654321';

  it('reads back a name made of uncommon words once; a yes keeps it, unnoted', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say('whatever works')).toBe('I have your name as Whatever Works. Is that right? You can also spell it for me.');
    expect(await c.say('yes')).toBe('Let me confirm: Tap repair tomorrow at 10:00 AM, for Whatever Works, phone number 5 5 5, 7 6 5, 4 3 2 1. Shall I book it?');
    await c.say('yes');
    expect(await live(c.callId)).toMatchObject([{ customerName: 'Whatever Works', notes: null }]);
  });

  it('takes a name heard as everyday words for the common name it sounds like, and still reads it back', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say('came brown')).toBe('I have your name as Kate Brown. Is that right? You can also spell it for me.');
    expect(await c.say('yes')).toMatch(/^Let me confirm: .* for Kate Brown,/);
    await c.say('yes');
    expect(await live(c.callId)).toMatchObject([{ customerName: 'Kate Brown', notes: null }]);
  });

  it('matches a name by sound in the first sentence too; a no to the read-back asks for it spelt', async () => {
    const c = await conversation(botEn, PHONE);
    expect(await c.say('I need a tap repair tomorrow at ten in the morning, my name is came brown')).toBe('I have your name as Kate Brown. Is that right? You can also spell it for me.');
    expect(await c.say('no')).toBe("Sorry, I didn't get your name. Could you spell it for me, letter by letter?");
    expect(await c.say('K-A-Y-E B-R-O-W-N')).toMatch(/^Let me confirm: .* for Kaye Brown,/);
  });

  it('does not correct a real name that is not on the list', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say('Hugo Blake')).toBe('I have your name as Hugo Blake. Is that right? You can also spell it for me.');
  });

  it('a name said twice or spelt after it is the name once: "Smith, John Smith" is John Smith, not "Smith John"', async () => {
    const said: Array<[string, string]> = [
      ['Smith, John Smith', 'John Smith'],
      ['smith john smith', 'John Smith'],
      ["it's John, John Smith", 'John Smith'],
      ['its john john smith', 'John Smith'],
      ['my name is Smith. John Smith.', 'John Smith'],
      ['Lee, Anna Lee', 'Anna Lee'],
      ["John Smith, that's S-M-I-T-H", 'John Smith'],
      ['john smith thats s m i t h', 'John Smith'],
      ['John Smith, J-O-H-N S-M-I-T-H', 'John Smith'],
      // The spelling corrects what the recognizer wrote for the surname.
      ["John Smith, that's S-M-Y-T-H", 'John Smyth'],
      // As before: a first name said, the surname spelt.
      ['John S-M-I-T-H', 'John Smith'],
    ];
    for (const [words, name] of said) {
      await db.sql`delete from bookings`; // the last call's hold
      const c = await conversation(botEn, PHONE);
      await c.say('I need a tap repair tomorrow at ten in the morning');
      expect(await c.say(words), words).toMatch(new RegExp(`^Let me confirm: Tap repair tomorrow at 10:00 AM, for ${name},`));
    }
    await db.sql`delete from bookings`;
    const first = await conversation(botEn, PHONE);
    expect(await first.say("Hi, I'm Smith, John Smith, I need a tap repair tomorrow at 10 am")).toMatch(/^Let me confirm: .* for John Smith,/);
    await first.say('yes');
    expect(await live(first.callId)).toMatchObject([{ customerName: 'John Smith' }]);
    for (const words of ['Смирнов, Иван Смирнов', 'меня зовут Иван, Иван Смирнов', 'Иван. Иван Смирнов']) {
      await db.sql`delete from bookings`;
      const c = await conversation(botRu, '+79160000002');
      await c.say('Хочу записаться на стрижку завтра в 12');
      expect(await c.say(words), words).toMatch(/^Проверим: Стрижка, завтра в 12:00, на имя Иван Смирнов,/);
    }
  });

  it('does not question a common name', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say('Kate Brown')).toMatch(/^Let me confirm: .* for Kate Brown/);
  });

  it('after a no, takes the name spelt letter by letter', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    await c.say('nine ago');
    expect(await c.say('no')).toBe("Sorry, I didn't get your name. Could you spell it for me, letter by letter?");
    expect(await c.say('N-I-N-A G-O-L-D')).toMatch(/^Let me confirm: .* for Nina Gold,/);
    await c.say('yes');
    expect(await live(c.callId)).toMatchObject([{ customerName: 'Nina Gold', notes: null }]);
  });

  it('a caller who goes on without answering the check keeps the name as heard, noted on the booking', async () => {
    const c = await conversation(botEn, null);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    await c.say('whatever works');
    expect(await c.say('two zero two five five five zero one four seven')).toMatch(/^Let me confirm: .* for Whatever Works, phone number 2 0 2, 5 5 5, 0 1 4 7/);
    await c.say('yes');
    expect(await live(c.callId)).toMatchObject([{ customerName: 'Whatever Works', notes: "caller's name as the recognizer heard it, not confirmed" }]);
  });

  it('never blocks on a name it cannot find: after one retry it keeps what was heard, noted', async () => {
    const c = await conversation(botEn, PHONE);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say('uh')).toBe("Sorry, I didn't get your name. Could you spell it for me, letter by letter?");
    expect(await c.say('it is uh')).toMatch(/^Let me confirm: Tap repair tomorrow at 10:00 AM, for It Is Uh, phone/);
    await c.say('yes');
    expect(await live(c.callId)).toMatchObject([{ customerName: 'It Is Uh', notes: "caller's name as the recognizer heard it, not confirmed" }]);
  });

  it('words that are plainly no name are not kept as one when the caller goes on to the number', async () => {
    const c = await conversation(botEn, null);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    expect(await c.say("i don't")).toBe("Sorry, I didn't get your name. Could you spell it for me, letter by letter?");
    // The number is taken, and the name asked for plainly again (not "Sorry… Sorry, I didn't get your name").
    expect(await c.say('two zero two five five five zero one four seven')).toBe('May I have your name, please?');
    expect(await c.say('Anna Lee')).toMatch(/^Let me confirm: Tap repair tomorrow at 10:00 AM, for Anna Lee, phone number 2 0 2, 5 5 5, 0 1 4 7\./);
  });

  it('reads a phone number with "for" and "to" heard for four and two', async () => {
    const c = await conversation(botEn, null);
    await c.say('I need a tap repair tomorrow at ten in the morning');
    await c.say('Kate Brown');
    expect(await c.say('my number is six for six five five five zero one to nine')).toMatch(/phone number 6 4 6, 5 5 5, 0 1 2 9\. Shall I book it\?$/);
  });
});

/** The first failed number-and-name lookup without caller ID: the name is asked once more. */
const ASK_NAME_AGAIN = "I couldn't find a booking under that number and name. Could you say the name on the booking again?";

describe('guided flow: whose bookings a caller may read or change', () => {
  const VERA = '+12125550199';
  /** Twilio's stand-in for a withheld caller ID that is a possible number: no one's identity. */
  const WITHHELD = '+86282452253';
  const veraBooks = () => bookings.reserve(db.sql, {
    companyId: company, botId: botEn.id, serviceId: 'tap', start: new Date(at('2026-03-06T10:00')), status: 'confirmed', actor: 'api',
    customerName: 'Vera Stone', customerPhone: VERA,
  });
  const statusOf = async (id: string) => (await bookings.get(db.sql, company, id)).status;
  /** The flow as an LLM calls it: the values it understood, no caller words. */
  async function llmFlow(callerNumber: string | null) {
    const callId = await seedCall(db.sql, company, botEn.id, callerNumber ?? '');
    const registry = new ToolRegistry(bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql }));
    const context = callContext(db.sql, company, botEn, callId, callerNumber);
    const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
    return (args: Record<string, unknown>) => registry.call('booking_flow', args, context, control, new AbortController().signal);
  }

  it('with a real caller ID, a number the caller says never finds, reads out or cancels another person\'s booking', async () => {
    const vera = await veraBooks();
    const c = await conversation(botEn, '+12125550111');
    const refused = "I can only look up appointments made with the number you're calling from. I couldn't find an upcoming appointment. Is there anything else I can help with?";
    expect(await c.say('I want to cancel my appointment, my number is two one two five five five zero one nine nine')).toBe(refused);
    expect(await c.say('yes')).not.toMatch(/cancelled|Tap repair|Friday/);
    // The LLM path: the model passes the number it heard.
    for (const task of ['find', 'cancel', 'reschedule']) {
      const flow = await llmFlow('+12125550111');
      const r = await flow({ task, phone: '212 555 0199', customer_name: 'Vera Stone', when: 'Monday at 3 pm' });
      expect(r.say, task).toBe(refused);
      expect(JSON.stringify(r.content), task).not.toMatch(/Tap repair|booking_id|03-06/);
      expect((await flow({ confirm: true })).say, task).not.toMatch(/cancelled|moved/);
    }
    expect(await statusOf(vera.id)).toBe('confirmed');
    expect((await bookings.history(db.sql, company, vera.id)).map((e) => e.actor)).toEqual(['api']);
    expect((await bookings.get(db.sql, company, vera.id)).start).toBe(new Date(at('2026-03-06T10:00')).toISOString());
  });

  it('a withheld caller ID (Twilio\'s made-up number) is no identity: booking asks the number; finding needs number and name', async () => {
    const vera = await veraBooks();
    const booker = await conversation(botEn, WITHHELD);
    expect(await booker.say("I'm Anna Lee and I need a tap repair tomorrow at 10 am")).toBe('What phone number can we reach you on?');
    const stranger = await conversation(botEn, WITHHELD);
    expect(await stranger.say('When is my appointment?')).toBe('What phone number did you book with?');
    expect(await stranger.say('two one two five five five zero one nine nine')).toBe('And what name is the booking under?');
    expect(await stranger.say('John Smith')).toBe(ASK_NAME_AGAIN);
    expect(await stranger.say('Jim Smith')).toBe("Sorry, I can't find a booking under those details. Is there anything else I can help with?");
    const owner = await conversation(botEn, WITHHELD);
    expect(await owner.say('Please cancel my booking')).toBe('What phone number did you book with?');
    expect(await owner.say('two one two five five five zero one nine nine')).toBe('And what name is the booking under?');
    expect(await owner.say('Vera Stone')).toBe('Just to confirm: cancel your Tap repair on Friday at 10:00 AM?');
    expect(await owner.say('yes')).toBe('Done, your Tap repair on Friday at 10:00 AM is cancelled. Is there anything else I can help with?');
    expect(await statusOf(vera.id)).toBe('cancelled');
  });

  it('a web call: the right number and name find the booking; a wrong name gets the same answer as an unknown number', async () => {
    const vera = await veraBooks();
    const notFound = "Sorry, I can't find a booking under those details. Is there anything else I can help with?";
    const wrongName = await llmFlow(null);
    expect((await wrongName({ task: 'cancel', phone: '212 555 0199' })).say).toBe('And what name is the booking under?');
    const again = await wrongName({ customer_name: 'Mallory Jones' });
    expect(again.say).toBe(ASK_NAME_AGAIN);
    expect(JSON.stringify(again.content)).not.toMatch(/Tap repair|03-06|booking_id/);
    expect((await wrongName({ confirm: true })).say).not.toMatch(/cancelled/);
    const refused = await wrongName({ customer_name: 'Mallory Stone' });
    expect(refused.say).toBe(notFound);
    expect(JSON.stringify(refused.content)).not.toMatch(/Tap repair|03-06|booking_id/);
    const unknownNumber = await llmFlow(null);
    expect((await unknownNumber({ task: 'cancel', phone: '212 555 0188', customer_name: 'Mallory Jones' })).say).toBe(ASK_NAME_AGAIN);
    expect((await unknownNumber({ customer_name: 'Mallory Stone' })).say).toBe(notFound);
    expect(await statusOf(vera.id)).toBe('confirmed');

    const owner = await llmFlow(null);
    // Said as a recognizer may write it: the first name alone, alike by sound.
    expect((await owner({ task: 'reschedule', phone: '212 555 0199', customer_name: 'vera' })).say).toBe(
      'Your Tap repair on Friday at 10:00 AM. What day and time would you like instead?');
    expect((await owner({ when: 'Monday at 3 pm' })).say).toBe('Just to confirm: move your Tap repair on Friday at 10:00 AM to Monday, March 9 at 3:00 PM?');
    expect((await owner({ confirm: true })).say).toMatch(/^Done, your Tap repair on Friday at 10:00 AM is moved to Monday, March 9 at 3:00 PM\./);
  });

  it('after three failed tries in a call no more bookings are looked up, even with the right details', async () => {
    await veraBooks();
    const flow = await llmFlow(null);
    // The first task's two tries (the second the retry of the name), then a new task's one: no retry is left.
    expect((await flow({ task: 'find', phone: '212 555 0199', customer_name: 'Ann Lee' })).say).toBe(ASK_NAME_AGAIN);
    for (const name of ['Bob Stone', 'Carl Jones']) {
      expect((await flow({ task: 'find', phone: '212 555 0199', customer_name: name })).say).toMatch(/can't find a booking under those details/);
    }
    expect((await flow({ task: 'find', phone: '212 555 0199', customer_name: 'Vera Stone' })).say).toMatch(/can't find a booking under those details/);
  });

  it('a misheard name gets one more try: the name said again finds the booking and the move said first is kept', async () => {
    const vera = await veraBooks();
    const c = await conversation(botEn, null);
    expect(await c.say('Can I move my booking to Monday at 3 pm?')).toBe('What phone number did you book with?');
    expect(await c.say('two one two five five five zero one nine nine')).toBe('And what name is the booking under?');
    expect(await c.say('Mary Stone')).toBe(ASK_NAME_AGAIN);
    expect(await c.say('Vera Stone')).toBe('Just to confirm: move your Tap repair on Friday at 10:00 AM to Monday, March 9 at 3:00 PM?');
    expect(await c.say('yes')).toMatch(/^Done, your Tap repair on Friday at 10:00 AM is moved to Monday, March 9 at 3:00 PM\./);
    expect((await bookings.get(db.sql, company, vera.id)).start).toBe(new Date(at('2026-03-09T15:00')).toISOString());
    // The LLM path, the number misheard this time: the same question; a number given in the answer replaces the first.
    const flow = await llmFlow(null);
    const again = await flow({ task: 'cancel', phone: '212 555 0188', customer_name: 'Vera Stone' });
    expect(again.say).toBe(ASK_NAME_AGAIN);
    expect(again.content).toMatchObject({ task: 'cancel', next: 'name', missing: expect.arrayContaining(['customer_name']) });
    expect((await flow({ phone: '212 555 0199' })).say).toBe('And what name is the booking under?');
    expect((await flow({ customer_name: 'Vera Stone' })).say).toBe('Just to confirm: cancel your Tap repair on Monday at 3:00 PM?');
  });

  it('a window said with the wish to move is kept across the retry and offered once the booking is found', async () => {
    await veraBooks();
    const c = await conversation(botEn, null);
    expect(await c.say('I need to move my appointment to Monday morning')).toBe('What phone number did you book with?');
    expect(await c.say('two one two five five five zero one nine nine')).toBe('And what name is the booking under?');
    expect(await c.say('Mary Stone')).toBe(ASK_NAME_AGAIN);
    expect(await c.say('Vera Stone')).toBe(
      'I can offer Monday at 9:00 AM, 10:00 AM or 11:00 AM. Which one suits you?');
  });

  it('a second miss ends the task as before, and every answer is the same whether or not the number has bookings', async () => {
    await veraBooks();
    const lines = ['I want to cancel my appointment', 'two one two five five five zero one nine nine', 'Mary Stone', 'Marie Stone', 'the day after tomorrow at nine'];
    const answers = async (number: string): Promise<string[]> => {
      const c = await conversation(botEn, null);
      const out: string[] = [];
      for (const line of lines) out.push(await c.say(line.replace('zero one nine nine', number)));
      return out;
    };
    const existing = await answers('zero one nine nine');
    expect(existing).toEqual([
      'What phone number did you book with?', 'And what name is the booking under?', ASK_NAME_AGAIN,
      "Sorry, I can't find a booking under those details. Is there anything else I can help with?",
      'Would you like to book, change or cancel an appointment?',
    ]);
    expect(await answers('zero one eight eight')).toEqual(existing);
    expect(await statusOf((await listBookings(db.sql, company, { limit: 1, phones: [VERA] }))[0]!.id)).toBe('confirmed');
  });

  it('a misheard name gets one more try in Russian too: the cancellation goes ahead with the right name', async () => {
    const ira = await bookings.reserve(db.sql, {
      companyId: company, botId: botRu.id, serviceId: 'haircut', start: new Date('2026-03-06T08:00:00Z'), status: 'confirmed', actor: 'api',
      customerName: 'Ирина Петрова', customerPhone: '+79161112233',
    });
    const c = await conversation(botRu, null);
    expect(await c.say('Хочу отменить запись')).toBe('На какой номер телефона оформлена запись?');
    expect(await c.say('девять один шесть один один один два два три три')).toBe('На какое имя оформлена запись?');
    expect(await c.say('Марина Петрова')).toBe('Я не нашёл записи на этот номер и имя. Назовите, пожалуйста, ещё раз имя, на которое оформлена запись.');
    expect(await c.say('Ирина Петрова')).toBe('Уточню: отменить запись — Стрижка, послезавтра в 11:00?');
    expect(await c.say('да')).toBe('Готово, запись отменена: Стрижка, послезавтра в 11:00. Могу ещё чем-нибудь помочь?');
    expect(await statusOf(ira.id)).toBe('cancelled');
  });

  /**
   * Ann's Tap repair tomorrow 10:00–11:00 on a half-hourly schedule, and someone else's booking at 11:30: 11:30 is
   * taken, 10:30 overlaps only Ann's own.
   */
  async function annBookedTomorrowAtTen() {
    const bot = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: { ...handyman, slotGranularityMin: 30 } });
    const mine = await bookings.reserve(db.sql, {
      companyId: company, botId: bot.id, serviceId: 'tap', start: new Date(at('2026-03-05T10:00')), status: 'confirmed', actor: 'api', customerName: 'Ann', customerPhone: '+12125550100',
    });
    await bookings.reserve(db.sql, { companyId: company, botId: bot.id, serviceId: 'tv', start: new Date(at('2026-03-05T11:30')), status: 'confirmed', actor: 'api' });
    return { bot, mine };
  }

  it('moving a booking by less than its length is not "fully booked": its own time is free to the move and offered', async () => {
    const { bot, mine } = await annBookedTomorrowAtTen();
    const c = await conversation(bot, '+12125550100');
    expect(await c.say('I need to move my appointment to tomorrow at 11:30')).toBe(
      "Sorry, we're fully booked tomorrow at 11:30 AM. The nearest free times are tomorrow at 10:00 AM, 10:30 AM or 12:30 PM. Which one suits you?");
    expect(await c.say('the second one')).toBe('Just to confirm: move your Tap repair tomorrow at 10:00 AM to tomorrow at 10:30 AM?');
    expect(await c.say('yes')).toMatch(/^Done, your Tap repair tomorrow at 10:00 AM is moved to tomorrow at 10:30 AM\./);
    expect((await bookings.get(db.sql, company, mine.id)).start).toBe(new Date(at('2026-03-05T10:30')).toISOString());
    // Straight to a time overlapping its own: confirmed, not refused.
    const again = await conversation(bot, '+12125550100');
    expect(await again.say('Can I move my appointment to tomorrow at 10:00?')).toBe('Just to confirm: move your Tap repair tomorrow at 10:30 AM to tomorrow at 10:00 AM?');
  });

  it('a window said with the wish to move ("to tomorrow morning") is offered once the booking is found, its own time free', async () => {
    const { bot, mine } = await annBookedTomorrowAtTen();
    const c = await conversation(bot, '+12125550100');
    // It was asked again ("What day and time would you like instead?"): the window came before the booking was known.
    expect(await c.say('I need to move my appointment to tomorrow morning')).toBe(
      'I can offer tomorrow at 9:00 AM, 9:30 AM or 10:30 AM. Which one suits you?');
    expect(await c.say('the third one')).toBe('Just to confirm: move your Tap repair tomorrow at 10:00 AM to tomorrow at 10:30 AM?');
    expect(await c.say('yes')).toMatch(/^Done, your Tap repair tomorrow at 10:00 AM is moved to tomorrow at 10:30 AM\./);
    expect((await bookings.get(db.sql, company, mine.id)).start).toBe(new Date(at('2026-03-05T10:30')).toISOString());
  });

  it('a name the database could not hold is refused before the read-back; control characters never reach it', async () => {
    const long = await llmFlow('+12125550100');
    const refused = await long({ task: 'book', service: 'tap repair', when: 'tomorrow at 11 am', customer_name: 'A'.repeat(201) });
    expect(refused.content).toMatchObject({ error: 'invalid_arguments' });
    expect(refused.say).toBeUndefined();
    expect(await listBookings(db.sql, company, { limit: 20, botId: botEn.id })).toHaveLength(0);
    const nul = await llmFlow('+12125550100');
    expect((await nul({ task: 'book', service: 'tap repair', when: 'tomorrow at 11 am', customer_name: 'Ann\u0000Lee\u202e' })).say).toBe(
      'Let me confirm: Tap repair tomorrow at 11:00 AM, for Ann Lee, phone number 2 1 2, 5 5 5, 0 1 0 0. Shall I book it?');
    expect((await nul({ confirm: true })).say).toMatch(/^You're booked for Tap repair tomorrow at 11:00 AM\. Thank you, Ann Lee!/);
  });
});

describe('guided flow: read-backs answered with the task\'s own verb', () => {
  const OWNER = '+12125550199';
  async function readBackOf(task: 'cancel' | 'reschedule', language: 'en' | 'ru') {
    await db.sql`delete from bookings`;
    const bot = language === 'en' ? botEn : botRu;
    const booking = await bookings.reserve(db.sql, {
      companyId: company, botId: bot.id, serviceId: language === 'en' ? 'tap' : 'haircut', start: new Date(at('2026-03-06T10:00')),
      status: 'confirmed', actor: 'api', customerPhone: OWNER,
    });
    const c = await conversation(bot, OWNER);
    const first = task === 'cancel'
      ? (language === 'en' ? 'I want to cancel my appointment' : 'Хочу отменить запись')
      : (language === 'en' ? 'I want to move my appointment to Monday at 3 pm' : 'Хочу перенести запись на понедельник в 15:00');
    expect(await c.say(first)).toMatch(/^(Just to confirm|Уточню)/);
    return { c, booking };
  }

  it('"cancel it", "go ahead and cancel it", "отменяйте" to a cancellation\'s read-back cancel; "no, keep it" keeps the booking', async () => {
    for (const yes of ['cancel it', 'yes cancel', 'go ahead and cancel it', 'please cancel it', 'cancel', 'yes, cancel it', 'I want to cancel it']) {
      const { c, booking } = await readBackOf('cancel', 'en');
      expect(await c.say(yes), yes).toBe('Done, your Tap repair on Friday at 10:00 AM is cancelled. Is there anything else I can help with?');
      expect((await bookings.get(db.sql, company, booking.id)).status, yes).toBe('cancelled');
    }
    for (const yes of ['отменяйте', 'да, отмените', 'отмените', 'отменяйте, пожалуйста', 'да отменяйте']) {
      const { c, booking } = await readBackOf('cancel', 'ru');
      expect(await c.say(yes), yes).toMatch(/^Готово, запись отменена/);
      expect((await bookings.get(db.sql, company, booking.id)).status, yes).toBe('cancelled');
    }
    for (const no of ['no, keep it', 'no', 'keep it', 'leave it as it is', "no don't cancel it"]) {
      const { c, booking } = await readBackOf('cancel', 'en');
      expect(await c.say(no), no).toBe("All right, I've left it as it was. Is there anything else I can help with?");
      expect((await bookings.get(db.sql, company, booking.id)).status, no).toBe('confirmed');
    }
    for (const no of ['нет, оставьте', 'нет', 'оставьте', 'не отменяйте']) {
      const { c, booking } = await readBackOf('cancel', 'ru');
      expect(await c.say(no), no).toBe('Хорошо, оставляю всё как было. Могу ещё чем-нибудь помочь?');
      expect((await bookings.get(db.sql, company, booking.id)).status, no).toBe('confirmed');
    }
    // Both at once is no answer: asked again, nothing cancelled.
    const { c, booking } = await readBackOf('cancel', 'en');
    expect(await c.say('yes, keep it')).toMatch(/^Sorry, I didn't catch that\. Just to confirm: cancel your Tap repair/);
    expect((await bookings.get(db.sql, company, booking.id)).status).toBe('confirmed');
  });

  it('"move it", "yes, move it", "переносите" to a move\'s read-back move it; "no, keep it" keeps it; a plain "no" asks for the time again', async () => {
    for (const yes of ['move it', 'yes, move it', 'go ahead and move it', 'please reschedule it']) {
      const { c, booking } = await readBackOf('reschedule', 'en');
      expect(await c.say(yes), yes).toMatch(/^Done, your Tap repair on Friday at 10:00 AM is moved to Monday, March 9 at 3:00 PM\./);
      expect((await bookings.get(db.sql, company, booking.id)).start, yes).toBe(new Date(at('2026-03-09T15:00')).toISOString());
    }
    for (const yes of ['переносите', 'да, перенесите', 'перенесите, пожалуйста']) {
      const { c, booking } = await readBackOf('reschedule', 'ru');
      expect(await c.say(yes), yes).toMatch(/^Готово, запись .* перенесена на понедельник, 9 марта, в 15:00/);
      // 15:00 in Moscow.
      expect((await bookings.get(db.sql, company, booking.id)).start, yes).toBe('2026-03-09T12:00:00.000Z');
    }
    for (const [language, no, said] of [
      ['en', 'no, keep it', "All right, I've left it as it was. Is there anything else I can help with?"],
      ['en', 'leave it where it is', "All right, I've left it as it was. Is there anything else I can help with?"],
      ['ru', 'нет, оставьте', 'Хорошо, оставляю всё как было. Могу ещё чем-нибудь помочь?'],
      ['en', 'no', 'Your Tap repair on Friday at 10:00 AM. What day and time would you like instead?'],
    ] as const) {
      const { c, booking } = await readBackOf('reschedule', language);
      expect(await c.say(no), no).toBe(said);
      expect((await bookings.get(db.sql, company, booking.id)).start, no).toBe(new Date(at('2026-03-06T10:00')).toISOString());
    }
  });
});

describe('guided flow: offered times read as a caller would say them', () => {
  const PHONE = '+12125550100';

  it('names a day once for its times, drops "on" after "I can offer", and asks about a single time as one', async () => {
    const friday = await conversation(botEn, PHONE);
    await friday.say('I need a tap repair');
    expect(await friday.say('Friday')).toBe('I can offer Friday at 9:00 AM, 12:00 PM or 4:00 PM. Which one suits you?');
    // Two days: each named once, set apart.
    const sunday = await conversation(botEn, PHONE);
    await sunday.say('I need a tap repair');
    expect(await sunday.say('Sunday at 1 am')).toBe(
      "Sorry, we can't book on Sunday at 1:00 AM. The nearest free times are Friday at 4:00 PM, or Monday at 9:00 AM or 10:00 AM. Which one suits you?");
    // One free time left tomorrow afternoon: offered as one, and a yes takes it.
    await db.sql`delete from bookings`;
    for (const hour of ['12', '13', '14', '16']) {
      await bookings.reserve(db.sql, { companyId: company, botId: botEn.id, serviceId: 'tv', start: new Date(at(`2026-03-05T${hour}:00`)), status: 'confirmed', actor: 'api' });
    }
    const one = await conversation(botEn, PHONE);
    await one.say('I need a tap repair');
    expect(await one.say('tomorrow afternoon')).toBe('I can offer tomorrow at 3:00 PM. Would that suit you?');
    expect(await one.say('yes')).toBe('May I have your name, please?');
    const ru = await conversation(botRu, '+79161234567');
    await ru.say('Хочу на маникюр');
    expect(await ru.say('завтра')).toBe('Могу предложить завтра в 10:00, в 14:30 или в 19:00. Какое время вам подходит?');
  });

  it('the booking tool offers the same way when a time is taken', async () => {
    await bookings.reserve(db.sql, { companyId: company, botId: botEn.id, serviceId: 'tap', start: new Date(at('2026-03-05T11:00')), status: 'confirmed', actor: 'api' });
    const callId = await seedCall(db.sql, company, botEn.id, PHONE);
    const registry = new ToolRegistry(bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql }));
    const context = callContext(db.sql, company, botEn, callId, PHONE);
    const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
    const taken = await registry.call('book_appointment', { service: 'tap repair', when: 'tomorrow at 11 am', customer_name: 'Ann Lee' }, context, control, new AbortController().signal);
    expect(taken.say).toBe('Sorry, that time is taken. I can offer tomorrow at 9:00 AM, 10:00 AM or 12:00 PM.');
  });
});

describe('guided flow: a time past how far ahead bookings are taken', () => {
  const PHONE = '+12125550100';

  it('says the horizon and offers the last free times before it, in English and Russian, exact times and days', async () => {
    const bot = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: { ...handyman, horizonDays: 30 } });
    const exact = await conversation(bot, PHONE);
    await exact.say('I need a tap repair');
    // 30 calendar days from Wednesday, March 4 at 08:00 EST end on Friday, April 3 at 08:00 EDT: the last free times are April 2's.
    expect(await exact.say('May 20 at 10 am')).toBe(
      "Sorry, we take bookings up to 30 days ahead, so I can't book on Wednesday, May 20 at 10:00 AM. " +
      'The latest free times are Thursday, April 2 at 2:00 PM, 3:00 PM or 4:00 PM. Which one suits you?');
    expect(await exact.say('the last one')).toBe('May I have your name, please?');
    const day = await conversation(bot, PHONE);
    await day.say('I need a tap repair');
    expect(await day.say('on May 20')).toMatch(/^Sorry, we take bookings up to 30 days ahead, so I can't book on Wednesday, May 20\. The latest free times are Thursday, April 2 at /);
    const ruBot = await seedBot(db.sql, company, 'ru', { greeting: 'Здравствуйте', systemPrompt: '', booking: { ...salonRu, horizonDays: 21 } });
    const ru = await conversation(ruBot, '+79161234567');
    await ru.say('Хочу на маникюр');
    expect(await ru.say('20 мая в 12')).toMatch(
      /^К сожалению, мы записываем не дальше чем на 21 день вперёд, поэтому в среду, 20 мая, в 12:00 записаться нельзя\. Самое позднее свободное время: в среду, 25 марта, в /);
  });

  it('a length of time ahead or a whole month or year, past the horizon, gets the horizon said, in English and Russian', async () => {
    const bot = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: { ...handyman, horizonDays: 30 } });
    const latest = 'The latest free times are Thursday, April 2 at 2:00 PM, 3:00 PM or 4:00 PM. Which one suits you?';
    // Each was "Sorry, I didn't catch that." and the time question again.
    for (const [said, when] of [
      ['in two months', 'on Monday, May 4'], ['a month from now', 'on Saturday, April 4'], ['in three weeks\' time', null],
      ['next year', 'in 2027'], ['the month after next', 'in May'], ['at the end of next month', 'between April 21 and April 30'],
    ] as const) {
      const call = await conversation(bot, PHONE);
      await call.say('I need a tap repair');
      const answer = await call.say(said);
      if (when) expect(answer, said).toBe(`Sorry, we take bookings up to 30 days ahead, so I can't book ${when}. ${latest}`);
      // Three weeks (25 March) is within the horizon: that day's times are offered.
      else expect(answer, said).toMatch(/^I can offer Wednesday, March 25 at /);
    }
    // Next month begins within the horizon (which ends on 3 April): its first bookable days are offered.
    const nextMonth = await conversation(bot, PHONE);
    await nextMonth.say('I need a tap repair');
    expect(await nextMonth.say('next month please')).toMatch(/^I can offer Wednesday, April 1 at .*Thursday, April 2 at /);
    const ruBot = await seedBot(db.sql, company, 'ru', { greeting: 'Здравствуйте', systemPrompt: '', booking: { ...salonRu, horizonDays: 21 } });
    for (const [said, when] of [['через два месяца', 'в понедельник, 4 мая'], ['в следующем году', 'в 2027 году'], ['в следующем месяце', 'в апреле'], ['в конце следующего месяца', 'с 21 по 30 апреля']] as const) {
      const ru = await conversation(ruBot, '+79161234567');
      await ru.say('Хочу на маникюр');
      expect(await ru.say(said), said).toMatch(new RegExp(`^К сожалению, мы записываем не дальше чем на 21 день вперёд, поэтому ${when} записаться нельзя\\. Самое позднее свободное время: в среду, 25 марта, в `));
    }
  });

  it('the booking tools tell the model the horizon and the last bookable times', async () => {
    const bot = await seedBot(db.sql, company, 'en', { greeting: 'Hi', systemPrompt: '', booking: { ...handyman, horizonDays: 30 } });
    const callId = await seedCall(db.sql, company, bot.id, PHONE);
    const registry = new ToolRegistry(bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql }));
    const context = callContext(db.sql, company, bot, callId, PHONE);
    const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
    const call = (name: string, args: Record<string, unknown>) => registry.call(name, args, context, control, new AbortController().signal);
    for (const when of ['May 20 at 10 am', 'May 20']) {
      const checked = await call('check_availability', { service: 'tap repair', when });
      expect(checked.content, when).toMatchObject({ available: false, reason: 'beyond_horizon', horizon_days: 30, bookable_until: '2026-04-03T08:00:00.000-04:00' });
      expect((checked.content as { slots: Array<{ label: string }> }).slots.map((s) => s.label), when).toContain('on Thursday, April 2 at 4:00 PM');
    }
    // A length of time ahead or a whole year (each was read as no time: the next week's slots, as if free).
    for (const when of ['in two months', 'next year', 'через полгода']) {
      const checked = await call('check_availability', { service: 'tap repair', when });
      expect(checked.content, when).toMatchObject({ available: false, reason: 'beyond_horizon', horizon_days: 30 });
    }
    const booked = await call('book_appointment', { service: 'tap repair', when: 'May 20 at 10 am', customer_name: 'Ann Lee' });
    expect(booked.content).toMatchObject({ error: 'not_bookable', reason: 'beyond_horizon', horizon_days: 30 });
    expect(booked.say).toBe("Sorry, we take bookings up to 30 days ahead, so I can't book on Wednesday, May 20 at 10:00 AM. The latest free times are Thursday, April 2 at 2:00 PM, 3:00 PM or 4:00 PM. Which one suits you?");
  });
});

describe('booking tools: an ISO time is read in the business\'s zone or refused, never moved to another hour', () => {
  const PHONE = '+12125550100';

  it('refuses a time whose offset is not the business\'s ("…T15:00:00Z" meant as 3 pm local), books the offered one', async () => {
    const callId = await seedCall(db.sql, company, botEn.id, PHONE);
    const registry = new ToolRegistry(bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql }));
    const context = callContext(db.sql, company, botEn, callId, PHONE);
    const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
    const call = (name: string, args: Record<string, unknown>) => registry.call(name, args, context, control, new AbortController().signal);
    // 15:00Z is 10:00 in New York: a model that wrote 3 pm local with a Z booked 10 am.
    for (const [name, args] of [
      ['book_appointment', { service: 'tap repair', when: '2026-03-05T15:00:00Z', customer_name: 'Ann Lee' }],
      ['book_appointment', { service: 'tap repair', when: '2026-03-05T15:00:00+03:00', customer_name: 'Ann Lee' }],
      ['check_availability', { service: 'tap repair', when: '2026-03-05T15:00:00.000Z' }],
      ['booking_flow', { task: 'book', service: 'tap repair', when: '2026-03-05T15:00Z' }],
    ] as const) {
      const refused = await call(name, args);
      expect(refused.content, `${name} ${args.when}`).toMatchObject({ error: 'time_zone_mismatch', timezone: 'America/New_York', utc_offset: '-05:00' });
      expect(refused.say, name).toBeUndefined();
    }
    expect(await listBookings(db.sql, company, { limit: 20, callId })).toHaveLength(0);
    // The slot's start as check_availability gave it (its offset) books that hour; so does a local time without one.
    const offered = await call('check_availability', { service: 'tap repair', when: 'tomorrow at 3 pm' });
    const slot = (offered.content as { slots: Array<{ start: string }> }).slots[0]!;
    expect(slot.start).toBe('2026-03-05T15:00:00.000-05:00');
    const booked = await call('book_appointment', { service: 'tap repair', when: slot.start, customer_name: 'Ann Lee' });
    expect(booked.content).toMatchObject({ start: '2026-03-05T15:00:00.000-05:00' });
    const local = await call('book_appointment', { service: 'tv mounting', when: '2026-03-05T11:00:00', customer_name: 'Ann Lee' });
    expect(local.content).toMatchObject({ start: '2026-03-05T11:00:00.000-05:00' });
  });
});
