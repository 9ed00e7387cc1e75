/**
 * Reading PostgreSQL's plans in tests (PGlite and PostgreSQL share the planner): how many rows of a table a
 * statement read, and a handle that runs a list query under EXPLAIN ANALYZE instead of for its rows.
 */
import type { Db } from '../../src/db/sql.js';

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Every node of a plan. */
export function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Rows (and index entries) a plan's nodes read from `table` or its indexes: what they returned and what they dropped. */
export function rowsRead(plan: PlanNode, table: string): number {
  const onTable = (n: PlanNode) => n['Relation Name'] === table || (n['Index Name'] ?? '').startsWith(`${table}_`);
  return nodes(plan).filter(onTable).reduce((sum, n) => {
    const loops = n['Actual Loops'] ?? 1;
    return sum + loops * ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0));
  }, 0);
}

const isTemplate = (v: unknown): v is TemplateStringsArray => Array.isArray(v) && 'raw' in (v as object);

/**
 * A handle on which a read (a tagged statement starting with select or with) runs as EXPLAIN (ANALYZE, FORMAT
 * JSON): give it to a repository's list function and read the plan with `planOf` from what that returns. Fragments
 * the statement is built from (`and status = …`) pass through unchanged.
 */
export function explaining(db: Db): Db {
  return new Proxy(db, {
    apply(target, thisArg, args: unknown[]) {
      const [strings, ...rest] = args;
      if (isTemplate(strings) && /^\s*(select|with)\b/i.test(strings[0]!)) {
        const first = `explain (analyze, format json) ${strings[0]}`;
        const rewritten = Object.assign([first, ...strings.slice(1)], { raw: [first, ...strings.raw.slice(1)] });
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, [rewritten, ...rest]);
      }
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
  });
}

/** The plan from the rows a statement run through `explaining` returned. */
export function planOf(rows: unknown): PlanNode {
  return ((rows as Record<string, unknown>[])[0]!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
}

/**
 * A handle that runs each read (a tagged statement starting with select or with) twice: first under EXPLAIN
 * (ANALYZE, FORMAT JSON), its plan kept in `plans`, then for its rows, which it returns — so code that reads
 * several statements and uses their answers (a check, a guard) can be watched without changing it.
 */
export function recordingPlans(db: Db): { db: Db; plans: PlanNode[] } {
  const plans: PlanNode[] = [];
  const explain = explaining(db);
  const handle = new Proxy(db, {
    apply(target, thisArg, args: unknown[]) {
      const [strings] = args;
      if (isTemplate(strings) && /^\s*(select|with)\b/i.test(strings[0]!)) {
        return (async () => {
          plans.push(planOf(await (Reflect.apply(explain as unknown as (...a: unknown[]) => unknown, thisArg, args) as Promise<unknown>)));
          return await (Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args) as Promise<unknown>);
        })();
      }
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
  });
  return { db: handle, plans };
}
