/**
 * Retention: calls older than their company's `retention_days` are purged — the call row with its transcript
 * and recording URL, its outcome and web-call token (cascade), the webhook events about it (ordering_key = the
 * call id); bookings, campaign attempts and DNC entries that pointed at it keep their rows with call_id set null
 * (foreign keys). Every webhook event older than the retention goes too, whatever it is about (campaign events
 * carry a callee's number and a call's id under the campaign's ordering key), once it is no longer being delivered.
 * Runs on the leased poller in every instance: each batch locks its calls with FOR UPDATE SKIP LOCKED, so instances
 * purging at once delete disjoint batches and never wait on each other.
 * A purged call's recording (a stored WAV or Twilio's) is queued for deletion in the same transaction and deleted
 * after it (src/recordings/deletions.ts; the worker drains that queue on every poll, retrying failures).
 */
import type { Logger } from '../log.js';
import type { RootSql } from '../db/sql.js';
import { LeasedPoller } from '../util/leased-poller.js';
import { drainRecordingDeletions, enqueueRecordingDeletions, type RecordingDeleter } from '../recordings/deletions.js';

export interface PurgeCounts {
  calls: number;
  webhook_events: number;
  /** Recordings queued for deletion. */
  recordings: number;
}

const DAY_MS = 86_400_000;

/**
 * Companies with calls past their retention, at `now`. The cutoff is `retention_days` × 24 h, exactly as purgeBatch
 * computes it: a calendar-day interval would follow the session's time zone across a DST change, an hour away from
 * the batch's cutoff, and a call inside that hour would keep its company due forever with nothing to purge — the
 * worker claiming it again at once, and other companies never.
 */
export async function companiesDue(sql: RootSql, now: Date, limit: number): Promise<{ id: string; retention_days: number }[]> {
  return sql<{ id: string; retention_days: number }[]>`
    select co.id, co.retention_days from companies co
    where co.retention_days is not null
      and (exists (select 1 from calls c where c.company_id = co.id
          and c.started_at < ${now}::timestamptz - make_interval(secs => co.retention_days * ${DAY_MS / 1000}))
        -- The company's oldest settled event (events are numbered in the order they were made).
        or (select e.created_at from webhook_events e where e.company_id = co.id and e.status <> 'pending' order by e.seq limit 1)
          < ${now}::timestamptz - make_interval(secs => co.retention_days * ${DAY_MS / 1000}))
    order by co.id limit ${limit}`;
}

/** Deletes one batch of the company's expired calls; how many went. */
export async function purgeBatch(sql: RootSql, company: { id: string; retention_days: number }, now: Date, batchSize: number): Promise<PurgeCounts> {
  const cutoff = new Date(now.getTime() - company.retention_days * DAY_MS);
  return sql.begin(async (tx) => {
    const calls = await tx<{ id: string }[]>`
      select id from calls where company_id = ${company.id} and started_at < ${cutoff}
      order by started_at limit ${batchSize} for update skip locked`;
    if (calls.length === 0) return { calls: 0, webhook_events: 0, recordings: 0 };
    const ids = calls.map((c) => c.id);
    const recordings = await enqueueRecordingDeletions(tx, company.id, ids);
    const events = await tx`delete from webhook_events where company_id = ${company.id} and ordering_key = any(${ids}::text[])`;
    const deleted = await tx`delete from calls where company_id = ${company.id} and id = any(${ids}::uuid[])`;
    return { calls: deleted.count, webhook_events: events.count, recordings };
  });
}

/**
 * Deletes one batch of the company's webhook events older than its retention, oldest first; how many went. One
 * still pending is left to its delivery (its attempts are recorded against it) and goes once delivered or dead.
 */
export async function purgeEventsBatch(sql: RootSql, company: { id: string; retention_days: number }, now: Date, batchSize: number): Promise<number> {
  const cutoff = new Date(now.getTime() - company.retention_days * DAY_MS);
  const deleted = await sql`
    delete from webhook_events where id in (
      select id from webhook_events where company_id = ${company.id} and created_at < ${cutoff} and status <> 'pending'
      order by seq limit ${batchSize})`;
  return deleted.count;
}

/** Purges everything due now, batch by batch, then deletes the recordings queued (tests and the worker). */
export async function purgeExpired(sql: RootSql, options: { now?: Date; batchSize?: number; signal?: AbortSignal; recordings?: RecordingDeleter } = {}): Promise<PurgeCounts> {
  const now = options.now ?? new Date();
  const total: PurgeCounts = { calls: 0, webhook_events: 0, recordings: 0 };
  try {
    return await purgeAll(sql, now, options, total);
  } finally {
    if (options.recordings) await drainRecordingDeletions(sql, options.recordings);
  }
}

async function purgeAll(sql: RootSql, now: Date, options: { batchSize?: number; signal?: AbortSignal }, total: PurgeCounts): Promise<PurgeCounts> {
  for (const company of await companiesDue(sql, now, 1000)) {
    for (;;) {
      if (options.signal?.aborted) return total;
      const n = await purgeBatch(sql, company, now, options.batchSize ?? 500);
      total.calls += n.calls;
      total.webhook_events += n.webhook_events;
      total.recordings += n.recordings;
      if (n.calls === 0) break;
    }
    for (;;) {
      if (options.signal?.aborted) return total;
      const events = await purgeEventsBatch(sql, company, now, options.batchSize ?? 500);
      total.webhook_events += events;
      if (events === 0) break;
    }
  }
  return total;
}

/**
 * The retention worker: every `pollMs` (default 10 min), companies with expired calls are purged in batches, and
 * queued recording deletions (purges, erasures, earlier failures) are carried out.
 */
export function retentionWorker(
  sql: RootSql,
  log: Logger,
  options: { pollMs?: number; batchSize?: number; now?: () => Date; recordings?: RecordingDeleter } = {},
): LeasedPoller<{ id: string; retention_days: number }> {
  const now = options.now ?? (() => new Date());
  const deleter = options.recordings;
  return new LeasedPoller({
    concurrency: 1,
    pollMs: options.pollMs ?? 600_000,
    ...(deleter
      ? {
          beforeClaim: async (signal: AbortSignal) => {
            const n = await drainRecordingDeletions(sql, deleter, { signal });
            if (n) log.info({ recordings: n }, 'deleted recordings of purged or erased calls');
          },
        }
      : {}),
    claim: (free) => companiesDue(sql, now(), free),
    run: async (company, signal) => {
      let calls = 0;
      while (!signal.aborted) {
        const n = await purgeBatch(sql, company, now(), options.batchSize ?? 500);
        if (n.calls === 0) break;
        calls += n.calls;
      }
      if (calls) log.info({ companyId: company.id, calls }, 'retention purged calls');
    },
    onError: (err) => log.warn({ err: String(err) }, 'retention purge failed'),
  });
}
