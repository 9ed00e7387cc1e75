/**
 * The two layers between a request's values and postgres.js: param-guard refuses what the driver could not
 * serialise, and the driver's serialisers cannot throw, so even an unguarded bad value fails alone — the
 * queries pipelined beside it on the same connection get their own results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsafeParameterError } from '../../src/db/param-guard.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

describe('query parameters at the driver boundary', () => {
  let guarded: TestDatabase;
  let bare: TestDatabase;
  beforeAll(async () => {
    guarded = await createTestDb({ migrate: false });
    bare = await createTestDb({ migrate: false, guard: false });
  });
  afterAll(async () => {
    await guarded.close();
    await bare.close();
  });

  const deep = () => {
    let v: unknown = 1;
    for (let i = 0; i < 20_000; i++) v = { a: v };
    return v;
  };

  it('refuses each kind of unserialisable value before a query exists', async () => {
    const sql = guarded.sql;
    const cases: [string, () => unknown][] = [
      ['invalid date', () => sql`select ${new Date('garbage')}::timestamptz`],
      ['year 0', () => sql`select ${new Date('0000-01-01T00:00:00Z')}::timestamptz`],
      ['year 10000', () => sql`select ${new Date('+010000-01-01T00:00:00Z')}::timestamptz`],
      ['undefined', () => sql`select ${undefined as unknown as string}::text`],
      ['NaN', () => sql`select ${Number.NaN}::float8`],
      ['NUL in text', () => sql`select ${'a\u0000b'}::text`],
      ['deep JSON', () => sql`select ${sql.json(deep() as never)}::jsonb`],
      ['NUL in JSON', () => sql`select ${sql.json({ k: 'a\u0000' })}::jsonb`],
      ['bad value in a fragment', () => sql`select 1 ${sql`where ${new Date(Number.NaN)} is null`}`],
      ['bad value in unsafe()', () => sql.unsafe('select $1::timestamptz', [new Date(Number.NaN)])],
      ['bad value in a transaction', () => sql.begin((tx) => tx`select ${new Date(Number.NaN)}::timestamptz`)],
    ];
    for (const [name, run] of cases) {
      await expect(Promise.resolve().then(run), name).rejects.toBeInstanceOf(UnsafeParameterError);
    }
    expect((await sql`select 1 as one`)[0]!.one).toBe(1);
  });

  it('without the guard, a value the serialiser cannot handle fails on the server, alone, and pipelined results stay with their queries', async () => {
    const sql = bare.sql;
    const valid = Array.from({ length: 40 }, (_, i) => sql<{ n: number }[]>`select ${i}::int as n, pg_sleep(0.001)`.then((r) => r[0]!.n));
    const broken = [
      sql`select ${new Date('garbage')}::timestamptz as t`,
      sql`select ${sql.json(deep() as never)}::jsonb as j`,
      sql`select ${new Date('also garbage')}::timestamptz as t`,
    ].map((q) => q.then(() => 'resolved', (e: { code?: string }) => e.code ?? 'client-side'));
    const results = await Promise.all(valid);
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // Rejected by the server (SQLSTATE class 22), not thrown inside the driver.
    for (const code of await Promise.all(broken)) expect(code).toMatch(/^22/);
    expect((await sql`select 2 as two`)[0]!.two).toBe(2);
  });
});
