/**
 * GET /v1/usage reads the usage rollup (src/usage/rollup.ts, migrations/0420), not a year of raw rows: its answer must
 * be what a recount of the raw rows (call_usage, ingest_usage) by local day gives, for any range and time zone, for
 * all bots and for one, after usage is written, added to at a call's end, moved off a deleted bot and deleted — and
 * while the rollup is behind (buckets still marked), and on a database upgraded with usage already in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/sql.js';
import { pricesFrom, type Prices } from '../../src/usage/prices.js';
import { queryUsage } from '../../src/usage/query.js';
import { priceItems, writeCallUsage, type RawItem } from '../../src/usage/repo.js';
import { refreshUsage } from '../../src/usage/rollup.js';
import { loadConfig } from '../../src/config.js';
import { createTestDb, migrateBefore, type TestDatabase } from '../helpers/db.js';
import { seedBot, seedCompany } from './booking-fixtures.js';

const prices: Prices = pricesFrom(loadConfig({ PRICE_DEEPGRAM_PER_MIN: '0.006', PRICE_OPENAI_OUTPUT_PER_MTOK: '8', PRICE_TWILIO_INBOUND_PER_MIN: '0.01' }));
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/St_Johns', 'Asia/Kolkata'];
const START = Date.parse('2024-03-01T00:00:00Z');
const SPAN_DAYS = 45; // over the spring clock changes of both hemispheres' zones above

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The recount: raw rows by local date in `zone`, priced; items that add up to nothing left out. */
async function recount(db: Db, q: { companyId: string; botId?: string; from: string; to: string; zone: string }) {
  const bot = q.botId ?? null;
  const rows = await db<{ day: string; kind: RawItem['kind']; provider: string; model: string; quantity: string }[]>`
    select to_char(u.at at time zone ${q.zone}, 'YYYY-MM-DD') as day, u.kind, u.provider, u.model, sum(u.quantity)::text as quantity
    from (
      select started_at as at, kind, provider, model, quantity, bot_id from call_usage where company_id = ${q.companyId}
      union all
      select occurred_at, kind, provider, model, quantity, bot_id from ingest_usage where company_id = ${q.companyId}) u
    where (${bot}::uuid is null or u.bot_id = ${bot}::uuid)
    group by 1, 2, 3, 4`;
  const days: string[] = [];
  for (let d = DateTime.fromISO(q.from, { zone: 'UTC' }); d.toISODate()! <= q.to; d = d.plus({ days: 1 })) days.push(d.toISODate()!);
  const priced = (items: RawItem[]) => {
    const p = priceItems(prices, items);
    return { items: p.items.filter((i) => i.quantity !== 0), cost: p.cost };
  };
  const raw = (r: (typeof rows)[number]): RawItem => ({ kind: r.kind, provider: r.provider, model: r.model, quantity: Number(r.quantity) });
  return {
    days: days.map((date) => ({ date, ...priced(rows.filter((r) => r.day === date).map(raw)) })),
    totals: priced(rows.filter((r) => r.day >= q.from && r.day <= q.to).map(raw)),
  };
}

/** Random ranges and zones: the rollup's answer equals the recount for each. */
async function expectMatchesRecount(db: Db, companyId: string, bots: (string | undefined)[], seed: number, ranges = 12): Promise<void> {
  const r = rng(seed);
  for (let i = 0; i < ranges; i++) {
    const zone = ZONES[Math.floor(r() * ZONES.length)]!;
    const a = Math.floor(r() * (SPAN_DAYS + 4)) - 2;
    const b = a + Math.floor(r() * 20);
    const from = new Date(START + a * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(START + b * 86_400_000).toISOString().slice(0, 10);
    const botId = bots[Math.floor(r() * bots.length)];
    const got = await queryUsage(db, prices, { companyId, botId, from, to, timeZone: zone });
    const want = await recount(db, { companyId, ...(botId ? { botId } : {}), from, to, zone });
    expect({ zone, from, to, botId, days: got.days, totals: got.totals }).toEqual({ zone, from, to, botId, ...want });
  }
}

const KINDS: [string, string, string][] = [
  ['stt_audio_ms', 'deepgram', 'nova-3'], ['llm_output_tokens', 'openai', 'gpt-4o-mini'], ['tts_chars', 'cartesia', 'sonic-3'], ['llm_input_tokens', 'anthropic', 'claude'],
];

/** `n` calls at random instants of the span, each with usage of random kinds (and telephony minutes by trigger). */
async function seedCalls(db: TestDatabase, companyId: string, bots: string[], n: number, seed: number): Promise<string[]> {
  const r = rng(seed);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(START + Math.floor(r() * SPAN_DAYS * 86_400_000));
    const dur = 1 + Math.floor(r() * 400);
    const [row] = await db.sql<{ id: string }[]>`
      insert into calls (company_id, bot_id, direction, status, started_at, answered_at, ended_at, duration_sec)
      values (${companyId}, ${bots[i % bots.length]!}, 'inbound', 'completed', ${at}, ${at}, ${new Date(at.getTime() + dur * 1000)}, ${dur}) returning id`;
    ids.push(row!.id);
    const items = KINDS.filter(() => r() < 0.7).map(([kind, provider, model]) => ({ kind: kind as never, provider, model, quantity: 1 + Math.floor(r() * 50_000) }));
    await writeCallUsage(db.sql, { callId: row!.id, companyId }, items);
  }
  return ids;
}

describe('usage rollup', () => {
  let db: TestDatabase;
  let companyId: string;
  let other: string;
  let bots: string[];
  let callIds: string[];
  beforeAll(async () => {
    db = await createTestDb();
    companyId = await seedCompany(db.sql, 'Busy');
    other = await seedCompany(db.sql, 'Other');
    bots = [(await seedBot(db.sql, companyId)).id, (await seedBot(db.sql, companyId)).id, (await seedBot(db.sql, companyId)).id];
    callIds = await seedCalls(db, companyId, bots, 120, 1);
    // Another company's usage never counts.
    const otherBot = (await seedBot(db.sql, other)).id;
    await seedCalls(db, other, [otherBot], 10, 2);
    // Ingestion's embedding tokens: with a bot, and with none.
    const r = rng(3);
    for (let i = 0; i < 15; i++) {
      await db.sql`insert into ingest_usage (company_id, bot_id, kind, provider, model, quantity, occurred_at)
        values (${companyId}, ${i % 3 === 0 ? null : bots[i % bots.length]!}, 'embedding_tokens', 'openai', 'text-embedding-3-small', ${1 + Math.floor(r() * 9000)},
          ${new Date(START + Math.floor(r() * SPAN_DAYS * 86_400_000))})`;
    }
  });
  afterAll(async () => db?.close());

  const current = async (id: string) => {
    await refreshUsage(db.sql, { companyId: id });
    const [m] = await db.sql`select count(*)::int as n from usage_dirty where company_id = ${id}`;
    expect(m!.n).toBe(0);
  };

  it('answers as the raw rows recounted, for random ranges, time zones and bots', async () => {
    await current(companyId);
    await expectMatchesRecount(db.sql, companyId, [undefined, ...bots], 10, 20);
  });

  it('stays exact as usage is added to, moved off a deleted bot, re-timed and deleted', async () => {
    const r = rng(4);
    // A call's usage added to at its end (a second session, the post-call analysis), its minutes changed.
    for (const id of callIds.slice(0, 20)) {
      await writeCallUsage(db.sql, { callId: id, companyId }, [{ kind: 'llm_output_tokens' as never, provider: 'openai', model: 'gpt-4o-mini', quantity: 1 + Math.floor(r() * 1000) }]);
    }
    await db.sql`update calls set duration_sec = duration_sec + 120 where id = any(${callIds.slice(20, 30)}::uuid[])`;
    await expectMatchesRecount(db.sql, companyId, [undefined, ...bots], 11, 6);
    await current(companyId);
    // A bot deleted: its usage stays the company's, no longer any bot's.
    await db.sql`delete from bots where id = ${bots[2]!}`;
    // Rows moved to another instant, and rows deleted (an erasure of the company's usage of some calls).
    await db.sql`update call_usage set started_at = started_at + interval '13 hours' where call_id = any(${callIds.slice(30, 40)}::uuid[])`;
    await db.sql`delete from call_usage where call_id = any(${callIds.slice(40, 50)}::uuid[])`;
    await db.sql`delete from ingest_usage where company_id = ${companyId} and bot_id is null`;
    // A retention purge: the calls go, their usage stays.
    await db.sql`delete from calls where id = any(${callIds.slice(50, 70)}::uuid[])`;
    await current(companyId);
    await expectMatchesRecount(db.sql, companyId, [undefined, bots[0], bots[1]], 12, 20);
  });

  it('answers exactly while the rollup is behind (buckets still marked)', async () => {
    await writeCallUsage(db.sql, { callId: callIds[0]!, companyId }, [{ kind: 'tts_chars' as never, provider: 'cartesia', model: 'sonic-3', quantity: 777 }]);
    const [m] = await db.sql`select count(*)::int as n from usage_dirty where company_id = ${companyId}`;
    expect(m!.n).toBeGreaterThan(0);
    await expectMatchesRecount(db.sql, companyId, [undefined, bots[0]], 13, 6);
  });
});

describe('migration 0420 (usage rollup)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
    await migrateBefore(db, '0420');
  });
  afterAll(async () => db?.close());

  it('rolls up the usage recorded before the upgrade', async () => {
    const companyId = await seedCompany(db.sql, 'Old data');
    const bots = [(await seedBot(db.sql, companyId)).id];
    await seedCalls(db, companyId, bots, 30, 5);
    await migrate(db.sql);
    await refreshUsage(db.sql, { companyId });
    const [r] = await db.sql`select count(*)::int as n from usage_rollup where company_id = ${companyId}`;
    expect(r!.n).toBeGreaterThan(0);
    await expectMatchesRecount(db.sql, companyId, [undefined, bots[0]], 14, 10);
  });
});
