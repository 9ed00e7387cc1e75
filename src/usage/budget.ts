/**
 * The monthly budget of a company (companies.monthly_budget, in PRICE_CURRENCY; null = none): the one check every
 * path that starts a call goes through — outbound calls (API), web-call tokens, campaign dials, inbound calls.
 *
 * The month is the UTC calendar month; its cost is the usage of the month (calls' usage, telephony minutes,
 * ingestion embeddings — the same rows and prices as GET /v1/usage) priced at the server's current PRICE_*.
 * Cheap: the budget is read by primary key on every check (a changed budget counts at once); the month's cost is
 * read from the usage rollup (month-usage.ts: a few rows per day, plus the raw rows of the buckets the rollup has
 * not caught up with), so it does not grow with the company's month, and is cached per company for `cacheMs`
 * (default 15 s), so a burst of campaign dials costs one query. A call already running is never cut off: the check is made when one starts, so
 * a month can end a little over its budget (by the calls that were live when it was reached).
 */
import type { Db } from '../db/sql.js';
import type { CallEndReasonCode } from '../call/end-reasons.js';
import { ParleyError } from '../errors.js';
import { monthUsage } from './month-usage.js';
import { priceItems } from './repo.js';
import { round6, type Prices } from './prices.js';

export interface BudgetStatus {
  /** Null: the company has no budget. */
  budget: number | null;
  /** The month, YYYY-MM (UTC). */
  month: string;
  /** Cost of the month so far, in `currency`. */
  spent: number;
  currency: string;
  exhausted: boolean;
  /** When the next month begins (the budget is available again). */
  resets_at: string;
}

export interface BudgetCheck {
  /**
   * `fresh`: read the month's cost now, not from the cache (what a person looking at it expects);
   * `costWithoutBudget`: the month's cost even when no budget is set (a call's check does not need it then).
   */
  status(companyId: string, options?: { fresh?: boolean; costWithoutBudget?: boolean }): Promise<BudgetStatus>;
}

/** The UTC month containing `now`: its start, the next one's start, and its YYYY-MM label. */
export function utcMonth(now: Date): { start: Date; end: Date; label: string } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end, label: start.toISOString().slice(0, 7) };
}

export class BudgetGuard implements BudgetCheck {
  private readonly spent = new Map<string, { month: string; cost: number; at: number }>();
  private readonly cacheMs: number;
  private readonly now: () => Date;

  constructor(private readonly db: Db, private readonly prices: Prices, options: { cacheMs?: number; now?: () => Date } = {}) {
    this.cacheMs = options.cacheMs ?? 15_000;
    this.now = options.now ?? (() => new Date());
  }

  async status(companyId: string, options: { fresh?: boolean; costWithoutBudget?: boolean } = {}): Promise<BudgetStatus> {
    const now = this.now();
    const month = utcMonth(now);
    const [row] = await this.db<{ monthly_budget: string | null }[]>`select monthly_budget::text from companies where id = ${companyId}`;
    const budget = row?.monthly_budget == null ? null : Number(row.monthly_budget);
    if (options.fresh) this.forget(companyId);
    const spent = budget === null && !options.costWithoutBudget ? 0 : await this.monthCost(companyId, month, now.getTime());
    return {
      budget, month: month.label, spent, currency: this.prices.currency,
      exhausted: budget !== null && spent >= budget, resets_at: month.end.toISOString(),
    };
  }

  /** Forget the cached cost (after this instance wrote usage for the company). */
  forget(companyId: string): void {
    this.spent.delete(companyId);
  }

  private async monthCost(companyId: string, month: { start: Date; end: Date; label: string }, nowMs: number): Promise<number> {
    const cached = this.spent.get(companyId);
    if (cached && cached.month === month.label && nowMs - cached.at < this.cacheMs) return cached.cost;
    const cost = round6(priceItems(this.prices, await monthUsage(this.db, companyId, month)).cost);
    this.spent.set(companyId, { month: month.label, cost, at: nowMs });
    return cost;
  }
}

export const BUDGET_EXHAUSTED = 'budget_exhausted' satisfies CallEndReasonCode;

/** Throws PARLEY_ERR_BUDGET_EXHAUSTED (409, details.reason 'budget_exhausted') when the month's budget is used up. */
export async function assertWithinBudget(budget: BudgetCheck | undefined, companyId: string): Promise<void> {
  if (!budget) return;
  const s = await budget.status(companyId);
  if (s.exhausted) throw budgetExhausted(s);
}

export function budgetExhausted(s: BudgetStatus): ParleyError {
  return new ParleyError('PARLEY_ERR_BUDGET_EXHAUSTED', `The company's monthly budget of ${s.budget} ${s.currency} is used up for ${s.month}; calls are refused until ${s.resets_at}`, {
    reason: BUDGET_EXHAUSTED, month: s.month, budget: s.budget, spent: s.spent, currency: s.currency, resets_at: s.resets_at,
  });
}
