/**
 * Booking zones stored as typed before their canonical spelling was enforced at every write ("europe/london",
 * "US/Eastern") are rewritten by the job migration 0440 queues, and the bot is then shown with the canonical zone;
 * a canonical zone, a bot without bookings and a bot saved in between are left alone, and a re-run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/jobs/queue.js';
import { runZoneBackfill, ZONE_BACKFILL_JOB, zoneBackfillJob } from '../../src/db/zone-backfill.js';
import type { RootSql } from '../../src/db/sql.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { salon } from './booking-fixtures.js';

let t: TestApp;
let sql: RootSql;
let companyId: string;
let apiKey: string;

/** A bot written as an older release wrote it: the booking zone as typed. */
async function bot(zone: string | null): Promise<string> {
  const config = { greeting: 'Hi', ...(zone === null ? {} : { booking: { ...salon, timezone: zone } }) };
  const [b] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${companyId}, 'Desk', 'en', ${sql.json(config as never)}) returning id`;
  return b!.id;
}

const zoneShown = async (id: string): Promise<string | undefined> => {
  const res = await t.app.inject({ method: 'GET', url: `/v1/bots/${id}`, headers: t.as(apiKey) });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { config: { booking?: { timezone: string } } }).config.booking?.timezone;
};

describe('booking zones stored as typed before canonical spelling', () => {
  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '1000' } });
    sql = t.db.sql;
    ({ companyId, apiKey } = await t.createCompany('Zones'));
  });
  afterAll(async () => t?.close());

  it('migration 0440 queues the job once', async () => {
    const jobs = await sql<{ n: number }[]>`select count(*)::int as n from jobs where kind = ${ZONE_BACKFILL_JOB}`;
    expect(jobs[0]!.n).toBe(1);
  });

  it('rewrites each stored zone to its canonical spelling, shown so by the API; a re-run changes nothing', async () => {
    const lower = await bot('europe/london');
    const link = await bot('US/Eastern');
    const mixed = await bot('asia/kolkata');
    const fine = await bot('America/New_York');
    const none = await bot(null);
    // Shown as typed until re-saved (the old behaviour this fixes).
    expect(await zoneShown(lower)).toBe('europe/london');
    const ctx: JobContext = { jobId: 'test', attempt: 1, signal: new AbortController().signal, renewLease: async () => true };
    await zoneBackfillJob({ sql }).handler({}, ctx);
    expect(await zoneShown(lower)).toBe('Europe/London');
    expect(await zoneShown(link)).toBe('America/New_York');
    expect(await zoneShown(mixed)).toBe('Asia/Kolkata');
    expect(await zoneShown(fine)).toBe('America/New_York');
    expect(await zoneShown(none)).toBeUndefined();
    // The rest of the config is kept.
    const [row] = await sql<{ config: { greeting: string; booking: { services: unknown[] } } }[]>`select config from bots where id = ${lower}`;
    expect(row!.config.greeting).toBe('Hi');
    expect(row!.config.booking.services).toHaveLength(salon.services.length);
    expect(await runZoneBackfill(sql)).toBe(0);
  });
});
