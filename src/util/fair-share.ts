/**
 * How a claim shares a worker's slots between companies (webhooks/outbox.ts claimDueEvents, jobs/queue.ts
 * claimJobs): companies take turns, and each is held to a cap of items in flight.
 */
export interface FairShare {
  /** Most items of one company in flight at once (with `held`) while other companies have work; default: no cap. */
  maxPerCompany?: number;
  /** Most in flight for a company that is the only one with work; default: no cap. */
  maxAlone?: number;
  /** Items already in flight per company (the caller's own), counted against the caps and the turns. */
  held?: ReadonlyMap<string, number>;
}

const wholeOrNull = (n: number | undefined): number | null => (n !== undefined && Number.isFinite(n) ? Math.max(0, Math.floor(n)) : null);

/** The share as query parameters: the caps as whole numbers (null: no cap) and the in-flight counts as an object. */
export function fairShareParams(share: FairShare): { cap: number | null; alone: number | null; held: Record<string, number> } {
  return {
    cap: wholeOrNull(share.maxPerCompany),
    alone: wholeOrNull(share.maxAlone),
    held: Object.fromEntries([...(share.held ?? [])].filter(([, n]) => n > 0)),
  };
}
