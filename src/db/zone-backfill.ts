/**
 * Brings bots' booking time zones stored before canonicalZone was applied at every write (8728348: "europe/london",
 * "US/Eastern") to their canonical spelling (Europe/London, America/New_York), so the API, the agent's prompt and
 * post-call analysis show the zone as the tz database spells it, not as once typed. Bookings themselves already read
 * the zone canonically (bookingSettings); what was shown was the stored config.
 *
 * Queued once by migrations/0440_booking_zone_canonical_backfill.sql as a durable job (never run at start-up): a keyset
 * walk of the bots with a booking zone, ZONE_BACKFILL_BATCH a transaction. Idempotent — a canonical zone is its own
 * canonical spelling — so a retried job walks again from the start and rewrites nothing twice. A bot saved in between
 * is left as saved (the update names the zone it read); a zone that is no zone (never accepted since checks began) is
 * left as it is.
 */
import { canonicalZone } from '../util/time-zone.js';
import type { JobKind } from '../jobs/queue.js';
import type { RootSql } from './sql.js';

export const ZONE_BACKFILL_JOB = 'booking_zone_canonical_backfill';
/** Bots a batch reads. */
export const ZONE_BACKFILL_BATCH = 500;

/** Walks every bot once; how many zones it rewrote. `afterBatch` false stops the walk. */
export async function runZoneBackfill(sql: RootSql, opts: { afterBatch?: () => Promise<boolean> } = {}): Promise<number> {
  let rewritten = 0;
  let after: string | null = null;
  for (;;) {
    const rows: { id: string; zone: string }[] = await sql<{ id: string; zone: string }[]>`
      select id, config->'booking'->>'timezone' as zone from bots
      where jsonb_typeof(config->'booking'->'timezone') = 'string' ${after === null ? sql`` : sql`and id > ${after}`}
      order by id limit ${ZONE_BACKFILL_BATCH}`;
    if (rows.length === 0) return rewritten;
    const changes = rows.flatMap((r) => {
      const canonical = canonicalZone(r.zone);
      return canonical && canonical !== r.zone ? [{ ...r, canonical }] : [];
    });
    if (changes.length) {
      await sql.begin(async (tx) => {
        for (const c of changes) {
          const done = await tx`
            update bots set config = jsonb_set(config, '{booking,timezone}', to_jsonb(${c.canonical}::text)), updated_at = now()
            where id = ${c.id} and config->'booking'->>'timezone' = ${c.zone}`;
          rewritten += done.count;
        }
      });
    }
    after = rows[rows.length - 1]!.id;
    if (rows.length < ZONE_BACKFILL_BATCH) return rewritten;
    if (opts.afterBatch && !(await opts.afterBatch())) return rewritten;
  }
}

/** The job migration 0440 queues: one walk, renewing its lease after each batch. */
export function zoneBackfillJob(deps: { sql: RootSql }): JobKind {
  return {
    concurrency: 1,
    async handler(_payload, ctx) {
      await runZoneBackfill(deps.sql, {
        afterBatch: async () => {
          if (ctx.signal.aborted) throw new Error('stopped');
          return ctx.renewLease();
        },
      });
    },
  };
}
