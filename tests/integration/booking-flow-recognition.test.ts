/**
 * The guided flow tells the call's recognizer what it just asked: a name after "May I have your name?", a number
 * after the phone question, a yes or no after the read-back, nothing once the booking is made — through the
 * call's RecognitionContext the call runner hands the tools (CallContext.recognition), with the real tools and database. Also: a
 * caller asked to spell a name who goes on to the number keeps the name first heard (no dead end).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBookingService } from '../../src/bookings/service.js';
import { bookingTools } from '../../src/bookings/tools.js';
import type { Tool } from '../../src/call/tool-types.js';
import { RecognitionContext } from '../../src/providers/stt/recognition-context.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { at, botConfig, callContext, noControl, seedBot, seedCall, seedCompany } from './booking-fixtures.js';

let db: TestDatabase;
let clock = 0;
const bookings = createBookingService({ holdSec: 300, now: () => clock });
let company: string;
let bot: Awaited<ReturnType<typeof seedBot>>;

beforeAll(async () => {
  db = await createTestDb();
  company = await seedCompany(db.sql, 'Recognition');
  bot = await seedBot(db.sql, company, 'en', botConfig());
});
afterAll(async () => db?.close());
beforeEach(() => {
  clock = at('2026-03-04T08:00'); // a Wednesday morning
});

function flow(): Tool {
  return bookingTools({ service: bookings, holdSec: 300, now: () => clock, db: db.sql }).find((t) => t.spec.name === 'booking_flow')!;
}

describe('booking flow → recognition context', () => {
  it('expects a name after asking for it, a number, then a yes; nothing once booked', async () => {
    const callId = await seedCall(db.sql, company, bot.id, '');
    const context = new RecognitionContext();
    {
      const tool = flow();
      const ctx = { ...callContext(db.sql, company, bot, callId, null), recognition: context };
      const turn = async (words: string): Promise<string> => {
        const r = await tool.run({ caller_words: words }, ctx, noControl, new AbortController().signal);
        return r.say ?? '';
      };
      expect(await turn('I need a haircut tomorrow at 10 am')).toBe('May I have your name, please?');
      expect(context.current()).toBe('name');
      expect(await turn('My name is John Smith')).toBe('What phone number can we reach you on?');
      expect(context.current()).toBe('phone');
      expect(await turn('five five five two one two three four five six')).toMatch(/^Let me confirm:/);
      expect(context.current()).toBe('yesno');
      expect(await turn('yes')).toMatch(/^You're booked/);
      expect(context.current()).toBeNull();
    }
  });

  it('expects a spelling after a name that could not be heard, and leaves other calls alone', async () => {
    const callId = await seedCall(db.sql, company, bot.id, '+12125550100');
    const other = await seedCall(db.sql, company, bot.id, '+12125550101');
    const context = new RecognitionContext();
    const otherContext = new RecognitionContext();
    {
      const tool = flow();
      const ctx = { ...callContext(db.sql, company, bot, callId, '+12125550100'), recognition: context };
      const otherCtx = { ...callContext(db.sql, company, bot, other, '+12125550101'), recognition: otherContext };
      const turn = (words: string) => tool.run({ caller_words: words }, ctx, noControl, new AbortController().signal);
      await turn('I need a haircut tomorrow at 10 am');
      expect(context.current()).toBe('name');
      // An answer with no name in it: the flow asks for it spelt.
      expect((await turn('um well')).say).toMatch(/spell it/);
      expect(context.current()).toBe('spelling');
      expect(otherContext.current()).toBeNull();
      // Asked to spell, the caller goes on to a number: taken, and the name asked for plainly again ("um well" is
      // no name to keep), no dead end.
      expect((await turn('two one two five five five zero one nine nine')).say).toBe('May I have your name, please?');
      expect(context.current()).toBe('name');
      expect((await turn('Anna Lee')).say).toMatch(/^Let me confirm: .* for Anna Lee, phone number 2 1 2, 5 5 5, 0 1 9 9\./);
      expect(context.current()).toBe('yesno');
      // A call without an open context (another runner's, a test's): the flow works all the same.
      const bare = await seedCall(db.sql, company, bot.id, '+12125550102');
      const r = await tool.run({ caller_words: 'I need a haircut tomorrow at 11 am' }, callContext(db.sql, company, bot, bare, '+12125550102'), noControl, new AbortController().signal);
      expect(r.say).toBe('May I have your name, please?');
      // The other call, asked nothing yet, keeps its own context.
      await tool.run({ caller_words: 'hello' }, otherCtx, noControl, new AbortController().signal);
      expect(otherContext.current()).toBeNull();
    }
  });
});
