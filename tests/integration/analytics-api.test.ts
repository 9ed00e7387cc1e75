/**
 * GET /v1/analytics reads the rollup the triggers mark and the worker (or the route) recomputes:
 * calls by direction and status, answered/completed/transferred, duration and latency percentiles, outcome mix,
 * bookings made/cancelled, leads, barge-ins — by day in the requested time zone, one company only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramQuantile } from '../../src/analytics/buckets.js';
import { refreshAnalytics } from '../../src/analytics/rollup.js';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { storeTurns } from '../helpers/transcript.js';
import { appendTurn } from '../../src/call/lifecycle.js';
import { countsOf, recountAnalytics } from '../helpers/analytics-recount.js';

describe('analytics', () => {
  let t: TestApp;
  let a: { companyId: string; apiKey: string };
  let b: { companyId: string; apiKey: string };
  let botA: string;
  let botA2: string;
  let botB: string;

  const get = (key: string, qs: string) => t.app.inject({ method: 'GET', url: `/v1/analytics?${qs}`, headers: t.as(key) });

  async function call(companyId: string, botId: string, o: {
    at: string; direction?: string; status?: string; durationSec?: number | null; answered?: boolean; endReason?: string | null;
    transcript?: unknown[]; outcome?: string;
  }): Promise<string> {
    const sql = t.db.sql;
    const ended = !['queued', 'ringing', 'in_progress'].includes(o.status ?? 'completed');
    const [row] = await sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec, end_reason)
      values (${companyId}, ${botId}, ${o.direction ?? 'inbound'}, ${o.status ?? 'completed'}, ${new Date(o.at)},
        ${o.answered === false ? null : new Date(o.at)}, ${ended ? new Date(new Date(o.at).getTime() + (o.durationSec ?? 0) * 1000) : null},
        ${o.durationSec ?? null}, ${o.endReason ?? null})
      returning id`;
    await storeTurns(sql, row!.id, (o.transcript ?? []) as object[]);
    if (o.outcome) {
      await sql`insert into outcomes (call_id, company_id, outcome_type, confidence, summary, analyzer)
        values (${row!.id}, ${companyId}, ${o.outcome}, 0.9, 's', 'test')`;
    }
    return row!.id;
  }

  const botTurn = (responseMs: number, interrupted = false) => ({ role: 'bot', text: 'x', ts: '2026-03-10T10:00:00Z', latency: { responseMs }, ...(interrupted ? { interrupted: true } : {}) });

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '100000' } });
    a = await t.createCompany('Alpha');
    b = await t.createCompany('Beta');
    const mk = async (key: string, name: string) => (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(key), payload: botBody({ name }) })).json().id as string;
    botA = await mk(a.apiKey, 'A1');
    botA2 = await mk(a.apiKey, 'A2');
    botB = await mk(b.apiKey, 'B1');

    // 2026-03-10 (UTC): three calls of bot A1, one of A2.
    await call(a.companyId, botA, { at: '2026-03-10T09:00:00Z', durationSec: 60, transcript: [{ role: 'caller', text: 'hi', ts: 'x' }, botTurn(400), botTurn(900, true)], outcome: 'booking' });
    await call(a.companyId, botA, { at: '2026-03-10T10:00:00Z', durationSec: 120, endReason: 'transferred', transcript: [botTurn(600)], outcome: 'lead' });
    await call(a.companyId, botA, { at: '2026-03-10T11:00:00Z', direction: 'outbound', status: 'no_answer', answered: false, durationSec: 0 });
    await call(a.companyId, botA2, { at: '2026-03-10T12:00:00Z', direction: 'web', durationSec: 30, outcome: 'lead' });
    // 23:30 UTC on the 10th is the 11th in Berlin (UTC+1) and 05:15 on the 11th in Kathmandu (UTC+5:45).
    await call(a.companyId, botA, { at: '2026-03-10T23:30:00Z', durationSec: 10 });
    // Another company's call on the same day.
    await call(b.companyId, botB, { at: '2026-03-10T09:30:00Z', durationSec: 45 });
    // Bookings: one made (confirmed), one held and lapsed (not a booking), one made and cancelled the same day, and a
    // hold the caller replaced by another time (held → cancelled: never a booking, never a cancellation).
    let slot = 0;
    const booking = (status: string, at: string) => t.db.sql<{ id: string }[]>`
      insert into bookings (company_id, bot_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, hold_expires_at, created_at)
      values (${a.companyId}, ${botA}, 's', 'Cut', 'r', 'Chair', ${new Date(Date.UTC(2026, 3, 1, 10 + slot))}, ${new Date(Date.UTC(2026, 3, 1, 10 + slot++, 30))},
        ${status}, ${status === 'held' ? new Date('2026-03-10T10:05:00Z') : null}, ${new Date(at)}) returning id`;
    await booking('confirmed', '2026-03-10T10:01:00Z');
    await booking('expired', '2026-03-10T10:02:00Z');
    const [c] = await booking('confirmed', '2026-03-10T10:03:00Z');
    await t.db.sql.begin(async (tx) => {
      await tx`update bookings set status = 'cancelled' where id = ${c!.id}`;
      await tx`insert into booking_events (booking_id, company_id, from_status, to_status, actor, created_at)
        values (${c!.id}, ${a.companyId}, 'confirmed', 'cancelled', 'api', ${new Date('2026-03-10T15:00:00Z')})`;
    });
    const [replaced] = await booking('held', '2026-03-10T10:04:00Z');
    await t.db.sql.begin(async (tx) => {
      await tx`update bookings set status = 'cancelled', hold_expires_at = null where id = ${replaced!.id}`;
      await tx`insert into booking_events (booking_id, company_id, from_status, to_status, actor, reason, created_at)
        values (${replaced!.id}, ${a.companyId}, 'held', 'cancelled', 'caller', 'replaced by a newer hold', ${new Date('2026-03-10T10:06:00Z')})`;
    });
  });
  afterAll(async () => t.close());

  it('counts one company by UTC day', async () => {
    const res = await get(a.apiKey, 'from=2026-03-09&to=2026-03-11&time_zone=UTC');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.days.map((d: { date: string }) => d.date)).toEqual(['2026-03-09', '2026-03-10', '2026-03-11']);
    const [d9, d10, d11] = body.days;
    expect(d9.calls).toBe(0);
    expect(d11.calls).toBe(0);
    expect(d10.calls).toBe(5);
    expect(d10.by_direction).toEqual({ inbound: 3, outbound: 1, web: 1 });
    expect(d10.by_status).toEqual({ completed: 4, failed: 0, busy: 0, no_answer: 1, canceled: 0, live: 0, machine_answered: 0 });
    expect(d10.machine_answered).toBe(0);
    expect(d10.answered).toBe(4);
    expect(d10.completed).toBe(4);
    expect(d10.transferred).toBe(1);
    expect(d10.outcomes).toEqual({ booking: 1, lead: 2 });
    expect(d10.analyzed).toBe(3);
    expect(d10.leads).toBe(2);
    expect(d10.bookings_made).toBe(2);
    expect(d10.bookings_cancelled).toBe(1);
    expect(d10.barge_ins).toBe(1);
    expect(d10.barge_ins_per_call).toBe(0.25);
    // Answered ended calls: 60, 120, 30, 10 s.
    expect(d10.duration_sec.avg).toBe(55);
    expect(d10.duration_sec.p50).toBe(histogramQuantile([0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 2700, 3600], { min: 10, max: 120 }, 0.5));
    expect(d10.duration_sec.p50).toBeGreaterThanOrEqual(20);
    expect(d10.duration_sec.p50).toBeLessThanOrEqual(60);
    expect(d10.duration_sec.p95).toBeGreaterThan(90);
    expect(d10.duration_sec.p95).toBeLessThanOrEqual(120);
    expect(d10.response_latency_ms.turns).toBe(3);
    expect(d10.response_latency_ms.avg).toBe(633);
    expect(d10.response_latency_ms.p50).toBeGreaterThan(500);
    expect(d10.response_latency_ms.p50).toBeLessThanOrEqual(600);
    expect(d10.response_latency_ms.p95).toBeGreaterThan(800);
    expect(d10.response_latency_ms.p95).toBeLessThanOrEqual(900);
    expect(body.totals.calls).toBe(5);
  });

  it('cuts days in the requested time zone (whole-hour and 45-minute offsets)', async () => {
    const berlin = (await get(a.apiKey, 'from=2026-03-10&to=2026-03-11&time_zone=Europe/Berlin')).json();
    expect(berlin.days.map((d: { calls: number }) => d.calls)).toEqual([4, 1]);
    const kathmandu = (await get(a.apiKey, 'from=2026-03-10&to=2026-03-11&time_zone=Asia/Kathmandu')).json();
    // 09:00Z = 14:45, 10:00Z = 15:45, 11:00Z = 16:45, 12:00Z = 17:45 on the 10th; 23:30Z = 05:15 on the 11th.
    expect(kathmandu.days.map((d: { calls: number }) => d.calls)).toEqual([4, 1]);
    const la = (await get(a.apiKey, 'from=2026-03-09&to=2026-03-10&time_zone=America/Los_Angeles')).json();
    // UTC-7 (DST from 8 March): 09:00Z = 02:00 on the 10th … 23:30Z = 16:30 on the 10th.
    expect(la.days.map((d: { calls: number }) => d.calls)).toEqual([0, 5]);
  });

  it('one bot; another company sees only its own; a foreign bot is 404', async () => {
    const a2 = (await get(a.apiKey, `from=2026-03-10&to=2026-03-10&bot_id=${botA2}`)).json();
    expect(a2.totals.calls).toBe(1);
    expect(a2.totals.by_direction.web).toBe(1);
    const beta = (await get(b.apiKey, 'from=2026-03-10&to=2026-03-10')).json();
    expect(beta.totals.calls).toBe(1);
    expect(beta.totals.bookings_made).toBe(0);
    expect(beta.totals.outcomes).toEqual({});
    expect((await get(b.apiKey, `from=2026-03-10&to=2026-03-10&bot_id=${botA}`)).statusCode).toBe(404);
  });

  it('follows changes: a call ending through the lifecycle, a call deleted', async () => {
    const id = await call(a.companyId, botA, { at: '2026-03-12T10:00:00Z', status: 'in_progress' });
    let d = (await get(a.apiKey, 'from=2026-03-12&to=2026-03-12')).json().totals;
    expect(d.by_status.live).toBe(1);
    expect(d.transferred).toBe(0);
    await t.db.sql.begin((tx) => endCallInTx(tx, { callId: id, companyId: a.companyId }, { status: 'completed', reason: 'transferred' }, { by: 'session', durationSec: 42 }));
    d = (await get(a.apiKey, 'from=2026-03-12&to=2026-03-12')).json().totals;
    expect(d.by_status).toMatchObject({ live: 0, completed: 1 });
    expect(d.transferred).toBe(1);
    expect(d.duration_sec.avg).toBe(42);
    await t.db.sql`delete from calls where id = ${id}`;
    d = (await get(a.apiKey, 'from=2026-03-12&to=2026-03-12')).json().totals;
    expect(d.calls).toBe(0);
    // Nothing left dirty for the worker.
    expect(await refreshAnalytics(t.db.sql)).toBeGreaterThanOrEqual(0);
    expect((await t.db.sql`select count(*)::int as n from analytics_dirty`)[0]!.n).toBe(0);
  });

  it('a statement inserting many calls into one bucket (an import) marks it once', async () => {
    await t.db.sql`
      insert into calls (company_id, bot_id, direction, status, started_at)
      select ${a.companyId}, ${botA2}, 'outbound', 'queued', timestamptz '2026-03-14T10:00:00Z' + i * interval '1 minute' from generate_series(0, 2) i`;
    const d = (await get(a.apiKey, 'from=2026-03-14&to=2026-03-14')).json().totals;
    expect(d.calls).toBe(3);
    expect(d.by_status.live).toBe(3);
  });

  it('a turn appended to a live call marks nothing', async () => {
    const id = await call(a.companyId, botA, { at: '2026-03-13T10:00:00Z', status: 'in_progress' });
    await refreshAnalytics(t.db.sql);
    await appendTurn(t.db.sql, { callId: id, companyId: a.companyId, redact: [] }, botTurn(300) as never);
    expect((await t.db.sql`select count(*)::int as n from analytics_dirty`)[0]!.n).toBe(0);
  });

  it('a turn written to an ended call (a session winding down) counts in its day', async () => {
    const id = await call(a.companyId, botA2, { at: '2026-03-16T10:00:00Z', durationSec: 60, transcript: [botTurn(400)] });
    await refreshAnalytics(t.db.sql);
    const before = (await get(a.apiKey, 'from=2026-03-16&to=2026-03-16')).json().totals;
    await appendTurn(t.db.sql, { callId: id, companyId: a.companyId, redact: [] }, botTurn(800, true) as never);
    expect((await t.db.sql`select count(*)::int as n from analytics_dirty`)[0]!.n).toBe(1);
    const after = (await get(a.apiKey, 'from=2026-03-16&to=2026-03-16')).json().totals;
    expect(after.barge_ins).toBe(before.barge_ins + 1);
  });

  it('reads a percentile in the histograms\' open last bucket against the largest value seen, never past it', async () => {
    const c = await t.createCompany('Long talks');
    const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody({ name: 'L' }) })).json().id as string;
    // Over an hour, with one answer over 30 s: both past the histograms' last bounded bucket.
    await call(c.companyId, bot, { at: '2026-05-01T10:00:00Z', durationSec: 3700, transcript: [botTurn(31_000)] });
    const body = (await get(c.apiKey, 'from=2026-05-01&to=2026-05-01&time_zone=UTC')).json();
    // Interpolated within the bucket (as every percentile is), between its lower edge and the largest value seen.
    for (const figures of [body.days[0], body.totals]) {
      expect(figures.duration_sec.avg).toBe(3700);
      for (const p of [figures.duration_sec.p50, figures.duration_sec.p95]) expect(p > 3600 && p <= 3700, `duration percentile ${p}`).toBe(true);
      expect(figures.response_latency_ms.avg).toBe(31_000);
      for (const p of [figures.response_latency_ms.p50, figures.response_latency_ms.p95]) expect(p > 30_000 && p <= 31_000, `latency percentile ${p}`).toBe(true);
    }
  });

  it('reads no percentile outside the values seen: one 2 s call is 2 s at every percentile', async () => {
    const c = await t.createCompany('Short talks');
    const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody({ name: 'S' }) })).json().id as string;
    // Once: duration {avg: 2, p50: 3, p95: 5}, and these answers' p95 380 ms (above the slowest, 369 ms).
    await call(c.companyId, bot, { at: '2026-06-01T10:00:00Z', durationSec: 2, transcript: [277, 144, 369, 229].map((ms) => botTurn(ms)) });
    const day = (await get(c.apiKey, 'from=2026-06-01&to=2026-06-01&time_zone=UTC')).json();
    for (const figures of [day.days[0], day.totals]) {
      expect(figures.duration_sec).toEqual({ avg: 2, p50: 2, p95: 2 });
      // The 300–400 ms bucket holds only 369: read as 300–369.
      expect(figures.response_latency_ms).toEqual({ avg: 255, p50: 250, p95: 355, turns: 4 });
    }
    // Two days: each day's percentiles within its own values, the range's within all of them.
    await call(c.companyId, bot, { at: '2026-06-02T10:00:00Z', durationSec: 7, transcript: [botTurn(1234)] });
    const both = (await get(c.apiKey, 'from=2026-06-01&to=2026-06-02&time_zone=UTC')).json();
    expect(both.days[1].duration_sec).toEqual({ avg: 7, p50: 7, p95: 7 });
    expect(both.days[1].response_latency_ms).toEqual({ avg: 1234, p50: 1234, p95: 1234, turns: 1 });
    expect(both.totals.duration_sec.p50).toBeGreaterThanOrEqual(2);
    expect(both.totals.duration_sec.p50).toBeLessThanOrEqual(5);
    expect(both.totals.duration_sec.p95).toBeGreaterThan(5);
    expect(both.totals.duration_sec.p95).toBeLessThanOrEqual(7);
    expect(both.totals.response_latency_ms.p95).toBeGreaterThan(1200);
    expect(both.totals.response_latency_ms.p95).toBeLessThanOrEqual(1234);
  });

  it('agrees with a recount of the calls from scratch, day by day and in total', async () => {
    const body = (await get(a.apiKey, 'from=2026-03-09&to=2026-03-17&time_zone=UTC')).json();
    for (const day of body.days) {
      const next = new Date(Date.parse(`${day.date}T00:00:00Z`) + 86_400_000).toISOString();
      expect(countsOf(day), day.date).toEqual(await recountAnalytics(t.db.sql, a.companyId, `${day.date}T00:00:00Z`, next));
    }
    expect(countsOf(body.totals)).toEqual(await recountAnalytics(t.db.sql, a.companyId, '2026-03-09T00:00:00Z', '2026-03-18T00:00:00Z'));
  });

  it('validates input and needs analytics:read', async () => {
    expect((await get(a.apiKey, 'from=2026-03-10&to=2026-03-09')).statusCode).toBe(400);
    expect((await get(a.apiKey, 'from=2026-03-10&to=2026-03-10&time_zone=Mars/Olympus')).statusCode).toBe(400);
    expect((await get(a.apiKey, 'from=2024-01-01&to=2026-03-10')).statusCode).toBe(400);
    expect((await get(a.apiKey, 'from=2026-02-30&to=2026-03-10')).statusCode).toBe(400);
    expect((await get(a.apiKey, 'from=2026-03-10')).statusCode).toBe(400);
    const key = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: 'calls', scopes: ['calls:read'] } })).json().key as string;
    expect((await get(key, 'from=2026-03-10&to=2026-03-10')).statusCode).toBe(403);
    const ok = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.as(a.apiKey), payload: { name: 'an', scopes: ['analytics:read'] } })).json().key as string;
    expect((await get(ok, 'from=2026-03-10&to=2026-03-10')).statusCode).toBe(200);
  });
});
