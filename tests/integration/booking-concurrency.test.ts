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
});
