/**
 * A number made undialable while a dial to it is between its checks and its commit: the write (a do-not-call
 * entry by the API or by the caller's "don't call me", a denied consent, a blocked prefix) waits for that dial to
 * commit, and every dial after it is refused. Before, the write committed at once and answered while the dial went
 * on to commit and call the number. Interleaved by a hook in the dial's transaction, not by timing: the dial stops
 * after its checks, the write starts, and the dial is let go once the write has either finished (the old race) or
 * is seen waiting for the dial (on PostgreSQL, its lock in pg_locks; embedded PGlite has one connection, on which
 * the write runs after the dial's transaction by construction).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallContext, CallControl } from '../../src/call/tool-types.js';
import { doNotCallTool } from '../../src/campaigns/tools.js';
import type { BotRow } from '../../src/db/bots.js';
import { usingRealPostgres } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('a suppression written while a dial to the number checks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h?.close());

  /** Whether a transaction of this database waits for an advisory lock (PostgreSQL: the write waits for the dial). */
  async function aWriteWaits(): Promise<boolean> {
    if (!usingRealPostgres()) return true;
    const rows = await h.t.db.sql`
      select 1 from pg_locks l join pg_database d on d.oid = l.database
      where d.datname = current_database() and l.locktype = 'advisory' and not l.granted`;
    return rows.length > 0;
  }

  type Writer = (me: { companyId: string; apiKey: string }, phone: string) => Promise<void>;
  const writers: [string, string, Writer][] = [
    ['a do-not-call entry by the API', 'do_not_call', async (me, phone) => {
      const res = await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone, reason: 'asked by email' }] });
      expect(res.statusCode, res.body).toBe(200);
    }],
    ['the caller\'s "don\'t call me" (the in-call tool)', 'do_not_call', async (me, phone) => {
      const [call] = await h.t.db.sql<{ id: string }[]>`select id from calls where company_id = ${me.companyId} order by started_at limit 1`;
      const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
      const ctx = { callId: call!.id, botId: 'x', companyId: me.companyId, callerNumber: phone, bot: { id: 'x', name: 'Ava', language: 'en', config: {} as never } } as CallContext;
      await doNotCallTool(h.t.db.sql).run({ reason: 'stop calling me' }, ctx, control, new AbortController().signal);
    }],
    ['a denied consent', 'consent_denied', async (me, phone) => {
      const res = await h.api(me.apiKey, 'PUT', `/v1/contacts/${encodeURIComponent(phone)}/consent`, { voice: 'denied', source: 'phone' });
      expect(res.statusCode, res.body).toBe(200);
    }],
    ['a blocked prefix', 'blocked_prefix', async (me, phone) => {
      const res = await h.api(me.apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [phone.slice(0, 5)] });
      expect(res.statusCode, res.body).toBe(200);
    }],
  ];

  it.each(writers)('%s waits for the dial already checking, and the next dial is refused', async (_name, reason, write) => {
    const me = await h.company();
    const [bot] = await h.t.db.sql<BotRow[]>`select * from bots where id = ${me.botId}`;
    const phone = `+1646555${String(writers.findIndex((w) => w[2] === write)).padStart(4, '0')}`;
    // An earlier call of the company's, for the in-call tool's context.
    await h.dialer.place(bot!, '+12125550999');

    const order: string[] = [];
    let checked!: () => void;
    const dialChecked = new Promise<void>((resolve) => (checked = resolve));
    let letGo!: () => void;
    const dialMayCommit = new Promise<void>((resolve) => (letGo = resolve));
    const dial = h.dialer.place(bot!, phone, {
      inTransaction: async () => {
        checked();
        await dialMayCommit;
      },
    });
    await dialChecked;
    let written = false;
    const writing = write(me, phone).then(() => {
      written = true;
      order.push('write answered');
    });
    await until(async () => written || (await aWriteWaits()));
    order.push('dial commits');
    letGo();
    await dial;
    await writing;
    expect(order).toEqual(['dial commits', 'write answered']);
    expect(h.dialsTo(phone)).toBe(1); // the dial that checked first

    await expect(h.dialer.place(bot!, phone)).rejects.toMatchObject({ reason });
    expect(h.dialsTo(phone)).toBe(1);
  });
});
