/**
 * The sweep of an erasure (erase.ts): every outcome of the company whose extracted data holds the number loses its
 * summary and extracted data, every webhook event whose body holds it is deleted — however the number got there
 * (the caller gave it on another call, a colleague's line). Only reading each row finds those, so the work grows with
 * the company: it goes in batches of SWEEP_BATCH_ROWS rows by key (outcomes.call_id, then webhook_events.seq), each
 * batch one short transaction that also records how far it got, so no statement comes near a request's query
 * deadline and the sweep resumes where it stopped after a crash. The request runs the first batches; the job
 * (ERASURE_SWEEP_JOB) runs the rest. Batches of one erasure run one at a time (the erasure row is locked).
 */
import type { Db, RootSql } from '../db/sql.js';
import type { JobKind } from '../jobs/queue.js';

export const ERASURE_SWEEP_JOB = 'privacy_erasure_sweep';
/** Rows one batch reads: a few tens of milliseconds of work, whatever the company's size. */
export const SWEEP_BATCH_ROWS = 2_000;

export type ErasureStatus = 'in_progress' | 'completed' | 'failed';

export interface ErasureCounts {
  calls: number;
  /** Recordings of those calls queued for deletion. */
  recordings: number;
  outcomes: number;
  webhook_events: number;
  bookings: number;
  campaign_contacts: number;
  campaign_attempts: number;
  consents: number;
  dnc_kept: boolean;
}

export interface Erasure extends ErasureCounts {
  id: string;
  status: ErasureStatus;
  created_at: Date;
  completed_at: Date | null;
}

type SweptTable = 'outcomes' | 'webhook_events';
type SweepTable = SweptTable | 'done';

/** Where a sweep starts in each table: below every key (no uuid is all zeros; identities start at 1). */
const START: Record<SweptTable, string> = { outcomes: '00000000-0000-0000-0000-000000000000', webhook_events: '0' };
const NEXT: Record<SweptTable, SweepTable> = { outcomes: 'webhook_events', webhook_events: 'done' };

interface SweepState {
  company_id: string;
  phones: string[];
  sweep_table: SweepTable;
  sweep_after: string | null;
}

/** One batch's outcome: the rows it read, the last key among them, and the rows it changed. */
interface BatchResult {
  read: number;
  last: string | null;
  hits: number;
}

/** The next SWEEP_BATCH_ROWS outcomes of the company after `after`: those holding the number are cleared. */
async function sweepOutcomes(tx: Db, s: SweepState, after: string): Promise<BatchResult> {
  const [r] = await tx<BatchResult[]>`
    with batch as (
      select call_id, extracted_data from outcomes
      where company_id = ${s.company_id} and call_id > ${after}::uuid order by call_id limit ${SWEEP_BATCH_ROWS}),
    hit as (
      update outcomes o set summary = '[erased]', extracted_data = '{}'::jsonb
      from batch b
      where o.call_id = b.call_id and exists (select 1 from unnest(${s.phones}::text[]) p where strpos(b.extracted_data::text, p) > 0)
      returning 1)
    select (select count(*)::int from batch) as read, (select call_id::text from batch order by call_id desc limit 1) as last,
      (select count(*)::int from hit) as hits`;
  return r!;
}

/** The next SWEEP_BATCH_ROWS webhook events of the company after `after`: those holding the number are deleted. */
async function sweepWebhookEvents(tx: Db, s: SweepState, after: string): Promise<BatchResult> {
  const [r] = await tx<BatchResult[]>`
    with batch as (
      select seq, body from webhook_events
      where company_id = ${s.company_id} and seq > ${after}::bigint order by seq limit ${SWEEP_BATCH_ROWS}),
    gone as (
      delete from webhook_events w using batch b
      where w.seq = b.seq and exists (select 1 from unnest(${s.phones}::text[]) p where strpos(b.body, p) > 0)
      returning 1)
    select (select count(*)::int from batch) as read, (select max(seq)::text from batch) as last,
      (select count(*)::int from gone) as hits`;
  return r!;
}

const SWEEPERS: Record<SweptTable, (tx: Db, s: SweepState, after: string) => Promise<BatchResult>> = {
  outcomes: sweepOutcomes,
  webhook_events: sweepWebhookEvents,
};

/**
 * Runs one batch of the erasure's sweep and records it (counts, position; at the end: completed, the number's forms
 * forgotten). False when nothing is left to sweep (done, failed, or no such erasure).
 */
export async function sweepBatch(sql: RootSql, erasureId: string): Promise<boolean> {
  return sql.begin(async (tx) => {
    const [s] = await tx<SweepState[]>`
      select company_id, phones, sweep_table, sweep_after from privacy_erasures
      where id = ${erasureId} and status = 'in_progress' for update`;
    if (!s) return false;
    const table = s.sweep_table;
    const { read, last, hits } = table === 'done' ? { read: 0, last: null, hits: 0 } : await SWEEPERS[table](tx, s, s.sweep_after ?? START[table]);
    // A short batch was the table's last.
    const next: SweepTable = table === 'done' || read === SWEEP_BATCH_ROWS ? table : NEXT[table];
    const done = next === 'done';
    const counted = table === 'done' ? 'outcomes' : table;
    await tx`
      update privacy_erasures set
        counts = counts || jsonb_build_object(${counted}::text, (counts ->> ${counted})::int + ${hits}::int),
        sweep_table = ${next}, sweep_after = ${next === table ? last : null},
        status = case when ${done} then 'completed' else status end,
        phones = case when ${done} then null else phones end,
        completed_at = case when ${done} then now() end, updated_at = now()
      where id = ${erasureId}`;
    return !done;
  });
}

/** Sweeps batch after batch until done, `maxBatches` have run, or `keepGoing` says stop. True when done. */
export async function sweepErasure(
  sql: RootSql, erasureId: string, options: { maxBatches?: number; keepGoing?: () => Promise<boolean> } = {},
): Promise<boolean> {
  for (let n = 0; options.maxBatches === undefined || n < options.maxBatches; n++) {
    if (!(await sweepBatch(sql, erasureId))) return true;
    if (options.keepGoing && !(await options.keepGoing())) return false;
  }
  return false;
}

/** An erasure of the company, as the API shows it; null when it has none with this id. */
export async function getErasure(sql: Db, companyId: string, erasureId: string): Promise<Erasure | null> {
  const [row] = await sql<(Omit<Erasure, keyof ErasureCounts> & { counts: ErasureCounts })[]>`
    select id, status, created_at, completed_at, counts from privacy_erasures where id = ${erasureId} and company_id = ${companyId}`;
  if (!row) return null;
  const { counts, ...erasure } = row;
  return { ...counts, ...erasure };
}

/**
 * The job that finishes a sweep the request did not: batch after batch, renewing its lease as it goes. A stop
 * (the process shutting down) throws, so the job goes back to the queue and resumes from the recorded position.
 * Given up after its last attempt: the erasure is marked failed and forgets the number (the rows the number reached
 * were erased by the request; asking again sweeps again).
 */
export function erasureSweepJob(deps: { sql: RootSql }): JobKind {
  return {
    concurrency: 2,
    handler: async (payload, ctx) => {
      const keepGoing = async (): Promise<boolean> => {
        if (ctx.signal.aborted) throw new Error('stopped');
        return ctx.renewLease();
      };
      await sweepErasure(deps.sql, String(payload.erasureId), { keepGoing });
    },
    onGiveUp: async (payload) => {
      await deps.sql`
        update privacy_erasures set status = 'failed', phones = null, updated_at = now()
        where id = ${String(payload.erasureId)} and status = 'in_progress'`;
    },
  };
}
