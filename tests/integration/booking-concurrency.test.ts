import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { createBookingService } from '../../src/bookings/service.js';
import { ParleyError } from '../../src/errors.js';
import { at, seedBot, seedCompany } from './booking-fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.close());

describe('no double booking under concurrency', () => {
  it('20 racing attempts on one slot yield exactly as many bookings as its capacity; the rest get alternatives', async () => {
    const companyId = await seedCompany(db.sql, 'Racing salon');
    const bot = await seedBot(db.sql, companyId);
    const bookings = createBookingService({ holdSec: 300, now: () => at('2026-03-04T10:00') });
    const start = new Date(at('2026-03-05T15:00'));
    const attempts = 20;
    // Half the racers ask for holds, half for bookings: holds take capacity too.
    const results = await Promise.allSettled(
      Array.from({ length: attempts }, (_, i) =>
        bookings.reserve(db.sql, {
          companyId, botId: bot.id, serviceId: 'haircut', start, status: i % 2 ? 'held' : 'confirmed',
          customerName: `Racer ${i}`, customerPhone: '+12125550100', actor: 'api',
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    console.log(`booking race (${usingRealPostgres() ? 'PostgreSQL, parallel' : 'PGlite, serialised'}): ${won.length} of ${attempts} attempts succeeded (capacity 2)`);
    expect(won).toHaveLength(2);
    expect(new Set(won.map((r) => r.value.resourceId))).toEqual(new Set(['anna', 'boris']));
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(ParleyError);
      expect((r.reason as ParleyError).code).toBe('PARLEY_ERR_SLOT_TAKEN');
      expect(((r.reason as ParleyError).details?.alternatives as unknown[]).length).toBeGreaterThan(0);
    }
    const [{ n }] = (await db.sql`
      select count(*)::int as n from bookings where company_id = ${companyId} and starts_at = ${start} and status in ('held', 'confirmed')`) as unknown as [{ n: number }];
    expect(n).toBe(2);
  });

  it('racing creates and lapsing holds never surface a deadlock: every loser gets SLOT_TAKEN, no overlap', async () => {
    const companyId = await seedCompany(db.sql, 'Busy salon');
    const bot = await seedBot(db.sql, companyId);
    const t0 = Date.now();
    // Holds that lapse at once, on a moving clock: every racer's transaction finds holds to expire while
    // others create new ones; starts 30 min apart overlap their neighbours (60-min service).
    const racing = createBookingService({ holdSec: 0, now: () => at('2026-03-04T10:00') + (Date.now() - t0) });
    const starts = ['09:00', '09:30', '10:00', '10:30', '11:00', '13:00', '13:30', '14:00'].map((hm) => new Date(at(`2026-03-05T${hm}`)));
    const results = await Promise.allSettled(
      Array.from({ length: 240 }, (_, i) =>
        racing.reserve(db.sql, {
          companyId, botId: bot.id, serviceId: 'haircut', start: starts[(i * 7) % starts.length]!,
          status: i % 3 === 0 ? 'confirmed' : 'held', customerName: `Racer ${i}`, actor: 'api',
        }),
      ),
    );
    const unexpected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected' && (r.reason as ParleyError).code !== 'PARLEY_ERR_SLOT_TAKEN');
    expect(unexpected.map((r) => String((r.reason as Error).message))).toEqual([]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThan(0);
    const [{ n }] = (await db.sql`
      select count(*)::int as n from bookings b1 join bookings b2
        on b1.company_id = b2.company_id and b1.resource_id = b2.resource_id and b1.id < b2.id
       and tstzrange(b1.starts_at, b1.ends_at) && tstzrange(b2.starts_at, b2.ends_at)
      where b1.company_id = ${companyId} and b1.status in ('held', 'confirmed', 'pending') and b2.status in ('held', 'confirmed', 'pending')
        and (b1.status <> 'held' or b1.hold_expires_at > now()) and (b2.status <> 'held' or b2.hold_expires_at > now())`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });
});
