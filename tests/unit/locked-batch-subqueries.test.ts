/**
 * No statement takes a locked batch through `… in (select … limit n for update …)` (or `= any (select …)`).
 *
 * PostgreSQL may run such an IN as a nested-loop semi-join with the subquery inside (it does when the statistics
 * say few rows match: autovacuum analysed the table before the rows came). The subquery then runs once per outer
 * row, each run skips the rows the statement has already changed (they read as locked by it), and the LIMIT
 * bounds nothing: a campaign stop's batch of 2,000 marked every contact, a claim could take more than its slots.
 * `= any(array(select … limit n for update …))` evaluates the subquery once (an init plan), as a CTE does:
 * tests/integration/campaign-stop.test.ts shows the difference on both databases.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The text from `open` (an opening parenthesis) to its matching close, or to the end. */
function balanced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open, i + 1);
  }
  return text.slice(open);
}

/** Each `in (select …)` / `any (select …)` subquery of `text` that has both a LIMIT and a row lock. */
export function lockedLimitSubqueries(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\b(?:in|any)\s*(\()\s*select\b/gi)) {
    const sub = balanced(text, m.index + m[0].indexOf('('));
    if (/\blimit\b/i.test(sub) && /\bfor\s+(?:no\s+key\s+)?(?:update|share)\b/i.test(sub)) found.push(sub);
  }
  return found;
}

describe('locked batches', () => {
  it('the check finds the shape it forbids, and passes the forms that run the subquery once', () => {
    expect(lockedLimitSubqueries('update t set x = 1 where id in (\n select id from t order by a limit ${n} ${db`for update skip locked`})')).toHaveLength(1);
    expect(lockedLimitSubqueries('delete from t where k = any (select k from t limit 5 for share)')).toHaveLength(1);
    expect(lockedLimitSubqueries('update t set x = 1 where id = any(array(select id from t limit 5 for update skip locked))')).toEqual([]);
    expect(lockedLimitSubqueries('with b as (select id from t limit 5 for update) update t set x = 1 from b where t.id = b.id')).toEqual([]);
    // A lock without a LIMIT takes the same rows however often it runs.
    expect(lockedLimitSubqueries('update t set x = 1 where id in (select id from t where y for update skip locked)')).toEqual([]);
  });

  it('no statement in src takes a LIMITed, locked batch through IN or ANY over a subquery', () => {
    const offenders = sourceFiles(SRC).flatMap((file) =>
      lockedLimitSubqueries(readFileSync(file, 'utf8')).map((sub) => `${relative(SRC, file)}: ${sub.replace(/\s+/g, ' ').slice(0, 120)}`));
    expect(offenders).toEqual([]);
  });
});
