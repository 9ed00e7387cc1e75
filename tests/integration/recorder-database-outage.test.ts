/**
 * What a caller says while the database cannot be reached is stored once it is back, in order, and so is the
 * call's end: the recorder tries a write again (with backoff) for as long as the database is unreachable, up to
 * its limit. Before, each write was tried once and dropped — turns lost, the call left in_progress for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgCallRecorder } from '../../src/call/recorder.js';
import { silentLogger } from '../../src/call/types.js';
import type { RootSql } from '../../src/db/sql.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let ids: { company: string; bot: string; call: string };
beforeAll(async () => {
  db = await createTestDb();
  const [co] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Outage', 'whsec_dGVzdA==') returning id`;
  const [bot] = await db.sql<{ id: string }[]>`insert into bots (company_id, name, language, config) values (${co!.id}, 'Desk', 'en', ${db.sql.json({ greeting: 'Hi' })}) returning id`;
  const [call] = await db.sql<{ id: string }[]>`insert into calls (company_id, bot_id, direction, status) values (${co!.id}, ${bot!.id}, 'web', 'queued') returning id`;
  ids = { company: co!.id, bot: bot!.id, call: call!.id };
});
afterAll(async () => db?.close());

/** The database as a call sees it during an outage: every statement refused while `down`. */
function outage(sql: RootSql) {
  const state = { down: true, refused: 0 };
  const refuse = () => {
    state.refused++;
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  };
  const flaky = new Proxy(sql, {
    apply: (target, thisArg, args: unknown[]) => (state.down ? refuse() : Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args)),
    get: (target, prop, receiver) => {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'begin') return (...args: unknown[]) => (state.down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).finally(() => state.refused++) : (value as (...a: unknown[]) => unknown).apply(target, args));
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as RootSql;
  return { flaky, state };
}

describe('the call recorder during a database outage', () => {
  it('stores the turns said and the end once the database is back, in order', async () => {
    const { flaky, state } = outage(db.sql);
    const recorder = new PgCallRecorder({ sql: flaky, callId: ids.call, companyId: ids.company, botId: ids.bot, log: silentLogger, retryUnreachableMs: 60_000 });
    const writes = [
      recorder.start(),
      recorder.appendTurn({ role: 'bot', text: 'Hello, how can I help?', ts: new Date().toISOString() }),
      recorder.appendTurn({ role: 'caller', text: 'When do you open?', ts: new Date().toISOString() }),
      recorder.end({ status: 'completed', reason: 'caller_hangup: caller ended' }),
    ];
    await new Promise((r) => setTimeout(r, 1200));
    expect(state.refused).toBeGreaterThan(1);
    state.down = false;
    await Promise.all(writes);
    const turns = await db.sql<{ turn: { role: string; text: string } }[]>`select turn from call_turns where call_id = ${ids.call} order by id`;
    expect(turns.map((t) => `${t.turn.role}: ${t.turn.text}`)).toEqual(['bot: Hello, how can I help?', 'caller: When do you open?']);
    const [call] = await db.sql<{ status: string; ended_at: Date | null }[]>`select status, ended_at from calls where id = ${ids.call}`;
    expect(call).toMatchObject({ status: 'completed' });
    expect(call!.ended_at).not.toBeNull();
  });
});
