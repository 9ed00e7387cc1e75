/** A contact upload's consents go to the database a thousand rows per statement, not one statement per row. */
import { describe, expect, it } from 'vitest';
import { setConsents } from '../../src/campaigns/suppression.js';
import type { Db } from '../../src/db/sql.js';

describe('setConsents', () => {
  it('writes 2,500 consents in 3 statements, each number once (the last record of a number given twice)', async () => {
    const statements: unknown[][] = [];
    const db = Object.assign((_strings: TemplateStringsArray, ...values: unknown[]) => {
      statements.push(values);
      return Promise.resolve([]);
    }, { json: (v: unknown) => v }) as unknown as Db;
    // db(rows, ...columns) — the multi-row insert helper — is called with an array first.
    const helper: Db = new Proxy(db as unknown as (...a: unknown[]) => unknown, {
      apply: (target, thisArg, args: unknown[]) => (Array.isArray(args[0]) && !('raw' in (args[0] as object)) ? { rows: args[0] } : Reflect.apply(target, thisArg, args)),
    }) as unknown as Db;
    // A denied consent makes a number undialable: the write runs in a transaction holding the company's suppression lock.
    Object.assign(db, { begin: (fn: (tx: Db) => Promise<unknown>) => fn(helper) });
    const list: { phone: string; voice: 'granted' | 'denied' }[] = Array.from({ length: 2_500 }, (_, i) => ({ phone: `+1646555${String(i).padStart(4, '0')}`, voice: 'granted' }));
    list.push({ phone: '+16465550007', voice: 'denied' });
    await setConsents(helper, 'company', list);
    const [lock, ...inserts] = statements;
    expect(lock).toEqual(['suppression:company']);
    expect(inserts).toHaveLength(3);
    const rows = inserts.flatMap((values) => (values[0] as { rows: { phone: string; voice: string }[] }).rows);
    expect(rows).toHaveLength(2_500);
    expect(rows.find((r) => r.phone === '+16465550007')!.voice).toBe('denied');
  });
});
