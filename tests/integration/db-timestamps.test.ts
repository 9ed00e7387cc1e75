/**
 * Instants go into the database and come back the same, every year included: the driver's reader of PostgreSQL's
 * text (src/db/pg-timestamp.ts), on whichever database the suite runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

describe('timestamps through the database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDb({ migrate: false });
  });
  afterAll(async () => {
    await db.close();
  });

  it.each(['0001-01-01T00:00:00.000Z', '0049-06-01T00:00:00.000Z', '0050-01-01T12:34:56.789Z', '0099-12-31T23:59:59.999Z', '1969-07-20T20:17:40.000Z', '2026-12-02T01:02:03.456Z', '9999-12-31T23:59:59.000Z'])(
    '%s comes back as it went in',
    async (iso) => {
      const [row] = await db.sql<{ tz: Date; d: Date }[]>`select ${new Date(iso)}::timestamptz as tz, (${iso}::timestamptz at time zone 'UTC')::date as d`;
      expect(row!.tz.toISOString()).toBe(iso);
      expect(row!.d.toISOString()).toBe(`${iso.slice(0, 10)}T00:00:00.000Z`);
    },
  );

  it('in any session time zone', async () => {
    const [row] = await db.sql.begin(async (tx) => {
      await tx`set local time zone 'Asia/Kolkata'`;
      return tx<{ tz: Date }[]>`select '0049-06-01T00:00:00Z'::timestamptz as tz`;
    });
    expect(row!.tz.toISOString()).toBe('0049-06-01T00:00:00.000Z');
  });
});
