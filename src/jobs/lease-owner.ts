/**
 * Leases that record the instance holding them — one mechanism for every durable worker's rows (jobs.locked_by,
 * webhook_events.locked_by): a lease is lost when it expired or, where this instance may judge, when the instance
 * that holds it is lost — silent for lostAfterMs, or its instances row gone, judged as lost calls are
 * (telephony/call-ownership.ts). Such a lease is claimed again at once, not when it runs out minutes later.
 */
import type { RootSql } from '../db/sql.js';

/**
 * The instance a worker runs in (CallOwnership): recorded on every lease it takes, and the judge of whether
 * another instance's leases are lost.
 */
export interface LeaseOwner {
  /** This process's instance (instances.id). */
  readonly instanceId: string;
  /** An instance that has not heartbeated for this long (or whose row is gone) is lost. */
  readonly lostAfterMs: number;
  /** Whether others' silence may be judged now: false until this instance has reached the database for lostAfterMs. */
  mayJudgeSilence(): boolean;
}

/**
 * A held lease is lost (another claim may take it): it expired, or, where an owner may judge, the instance that
 * holds it is lost. Unqualified columns `locked_until` and `locked_by`: those of the row of the query it is put in.
 */
export function leaseLost(sql: RootSql, owner: LeaseOwner | undefined) {
  if (!owner?.mayJudgeSilence()) return sql`locked_until < now()`;
  return sql`(locked_until < now() or (locked_by is not null and locked_by <> ${owner.instanceId}::uuid
    and not exists (select 1 from instances i
                    where i.id = locked_by and i.heartbeat_at >= now() - ${owner.lostAfterMs} * interval '1 millisecond')))`;
}
