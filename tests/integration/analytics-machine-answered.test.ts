/**
 * A call answering-machine detection found a machine on (call/machine-answer.ts) was no conversation: GET
 * /v1/analytics counts it as machine_answered (by how it ended: a voicemail left, hung up on, a fax), never as
 * answered or completed, and out of the talk time — while it is live, once it ends, and in buckets rolled up before
 * the machine answers were counted (migration 0400). The rollup's totals agree with a recount of the calls at each step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshAnalytics } from '../../src/analytics/rollup.js';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { recordMachineAnswer } from '../../src/call/machine-answer.js';
import type { CallEndReason } from '../../src/call/end-reasons.js';
import { migrate } from '../../src/db/migrate.js';
import { countsOf, recountAnalytics } from '../helpers/analytics-recount.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { createTestDb, migrateBefore } from '../helpers/db.js';

const DAY = '2026-07-01';

describe('analytics of calls a machine answered', () => {
  let t: TestApp;
  let company: { companyId: string; apiKey: string };
  let bot: string;

  const totals = async () => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/analytics?from=${DAY}&to=${DAY}`, headers: t.as(company.apiKey) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().totals;
  };
  /** The rollup's totals, checked against a recount of the calls from scratch. */
  const checkedTotals = async () => {
    const d = await totals();
    expect(countsOf(d)).toEqual(await recountAnalytics(t.db.sql, company.companyId, `${DAY}T00:00:00Z`, '2026-07-02T00:00:00Z'));
    return d;
  };

  /** An outbound call Twilio reported answered (in progress). */
  async function answeredCall(at: string): Promise<string> {
    const [row] = await t.db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, answered_at)
      values (${company.companyId}, ${bot}, 'outbound', 'in_progress', ${new Date(at)}, ${new Date(at)}) returning id`;
    return row!.id;
  }
  const end = (callId: string, durationSec: number) =>
    t.db.sql.begin((tx) => endCallInTx(tx, { callId, companyId: company.companyId }, { status: 'completed', reason: 'caller_hangup' }, { by: 'telephony', durationSec }));
  const machine = (callId: string, reason: CallEndReason) => recordMachineAnswer(t.db.sql, callId, { reason, failure: 'answered by a machine' });

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '100000' } });
    company = await t.createCompany('Dialer');
    bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey), payload: botBody({ name: 'D' }) })).json().id as string;
  });
  afterAll(async () => t.close());

  it('counts a voicemail left, a machine hung up on and a fax as machine_answered, not answered, and out of the talk time', async () => {
    // A person: 60 s.
    await end(await answeredCall(`${DAY}T09:00:00Z`), 60);
    // A machine: answered, counted while live, then detection's verdict, then Twilio's end (completed, billed 25 s).
    const left = await answeredCall(`${DAY}T09:01:00Z`);
    let d = await checkedTotals();
    expect(d.answered).toBe(2);
    expect(d.by_status.live).toBe(1);
    await machine(left, 'voicemail_left: machine_end_beep');
    d = await checkedTotals();
    expect(d.answered).toBe(1);
    expect(d.machine_answered).toBe(1);
    expect(d.by_status.live).toBe(1);
    await end(left, 25);
    const hungUp = await answeredCall(`${DAY}T09:02:00Z`);
    await machine(hungUp, 'voicemail_hung_up: machine_start');
    await end(hungUp, 3);
    const fax = await answeredCall(`${DAY}T09:03:00Z`);
    await machine(fax, 'fax');
    await end(fax, 2);

    d = await checkedTotals();
    expect(d.calls).toBe(4);
    expect(d.answered).toBe(1);
    expect(d.machine_answered).toBe(3);
    expect(d.machine_answers).toEqual({ voicemail_left: 1, voicemail_hung_up: 1, fax: 1 });
    // Twilio reports each machine's call completed; by status they are machine_answered, so the statuses still add up.
    expect(d.by_status).toEqual({ completed: 1, failed: 0, busy: 0, no_answer: 0, canceled: 0, live: 0, machine_answered: 3 });
    expect(d.completed).toBe(1);
    // Talk time is the person's alone (with the machines': avg 22.5 s, p50 ≈ 3 s).
    expect(d.duration_sec).toEqual({ avg: 60, p50: 60, p95: 60 });
  });

  it('a rollup made before machine answers were counted is recomputed by migration 0400', async () => {
    const db = await createTestDb({ migrate: false });
    try {
      await migrateBefore(db, '0400');
      const [co] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Old', 'whsec_old') returning id`;
      const [b] = await db.sql<{ id: string }[]>`insert into bots (company_id, name, config) values (${co!.id}, 'B', '{}'::jsonb) returning id`;
      const botId = b!.id;
      const at = new Date('2026-02-01T10:00:00Z');
      await db.sql`
        insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec, end_reason, machine_end_reason)
        values (${co!.id}, ${botId}, 'outbound', 'completed', ${at}, ${at}, ${at}, 25, 'voicemail_left: machine_end_beep', 'voicemail_left: machine_end_beep')`;
      // What the rollup held then: the voicemail answered and completed, 25 s of talk.
      await db.sql`delete from analytics_dirty`;
      await db.sql`insert into call_rollup (company_id, bot_id, bucket, calls, outbound, st_completed, answered, duration_count, duration_sum, duration_min, duration_max, dh05)
        values (${co!.id}, ${botId}, ${at}, 1, 1, 1, 1, 1, 25, 25, 25, 1)`;

      await migrate(db.sql);
      expect(await refreshAnalytics(db.sql)).toBe(1);
      const [row] = await db.sql`select calls, answered, st_completed, st_machine, machine_voicemail_left, duration_count from call_rollup where company_id = ${co!.id}`;
      expect(row).toEqual({ calls: 1, answered: 0, st_completed: 0, st_machine: 1, machine_voicemail_left: 1, duration_count: 0 });
    } finally {
      await db.close();
    }
  });
});
