/**
 * Brings numbers stored before canonicalPhone was applied at every write (+112025550143, +4402079460000) to their
 * one form (+12025550143, +442079460000): phone_numbers.number, bots.phone_number and config.transferNumber,
 * calls.from_number and to_number, and the do-not-call entries and consents the API stored as typed before
 * 2026-11-30 (the dial-time check compares the canonical form: such an entry did not stop a call). Campaign
 * contacts and attempts (normalised at upload from the start) and bookings (normalised at write) are not walked.
 *
 * Queued once by migrations/0430_phone_canonical_backfill.sql as a durable job (never run at start-up): steps in
 * order, each a keyset walk of PHONE_BACKFILL_BATCH rows a transaction whose position is saved in the same
 * transaction (phone_backfill_steps, locked FOR UPDATE: two instances, or a job and an operator's run, take turns,
 * never the same batch). A re-run rewrites nothing: a canonical value is its own canonical form.
 *
 * Two spellings of one number held apart are a conflict, settled by one rule, never by chance: the holder of the
 * canonical spelling keeps the number (it is the one Twilio's calls reach today); where nobody held it, the holder
 * of the long spelling takes it. A bot that cannot keep its number (another company holds it, or another active bot
 * of its company answers it) is deactivated, keeping the number as history; the company's audit log says so
 * (action PHONE_BACKFILL_ACTION) and the server log names both sides for the operator.
 */
import { setImmediate as nextLoopTurn } from 'node:timers/promises';
import { canonicalPhone } from '../util/phone.js';
import type { JobKind } from '../jobs/queue.js';
import type { Db, RootSql } from './sql.js';

export const PHONE_BACKFILL_JOB = 'phone_canonical_backfill';
/** Rows a batch reads: a few milliseconds of parsing, yielded in slices (canonicalSpellings). */
export const PHONE_BACKFILL_BATCH = 500;
/** The audit log's action for a bot or a holding the backfill changed against its company's spelling. */
export const PHONE_BACKFILL_ACTION = 'SYSTEM phone number canonical form';
/** Parses between two turns of the event loop (tens of microseconds each): calls' timers are not held up. */
const PARSES_PER_TURN = 50;

export const PHONE_BACKFILL_STEPS = ['phone_numbers', 'bots', 'calls', 'dnc_numbers', 'contact_consents'] as const;
export type PhoneBackfillStep = (typeof PHONE_BACKFILL_STEPS)[number];

export interface PhoneBackfillLog {
  warn(obj: object, msg: string): void;
}

export interface PhoneBackfillTotals {
  rewritten: number;
  conflicts: number;
}

interface BatchResult extends PhoneBackfillTotals {
  done: boolean;
}

/** Each distinct value's canonical form, the event loop given a turn every PARSES_PER_TURN parses. */
async function canonicalSpellings(values: Iterable<string | null>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let parsed = 0;
  for (const v of values) {
    if (v === null || out.has(v)) continue;
    out.set(v, canonicalPhone(v));
    if (++parsed % PARSES_PER_TURN === 0) await nextLoopTurn();
  }
  return out;
}

/** Runs every step to its end (or until `shouldStop`); totals of this run. */
export async function runPhoneBackfill(
  sql: RootSql,
  opts: { log?: PhoneBackfillLog; afterBatch?: () => Promise<boolean> } = {},
): Promise<PhoneBackfillTotals> {
  const totals = { rewritten: 0, conflicts: 0 };
  for (const step of PHONE_BACKFILL_STEPS) {
    for (;;) {
      const r = await backfillBatch(sql, step, opts.log);
      totals.rewritten += r.rewritten;
      totals.conflicts += r.conflicts;
      if (r.done) break;
      if (opts.afterBatch && !(await opts.afterBatch())) return totals;
    }
  }
  return totals;
}

/** The job migration 0430 queues: runs the steps, renewing its lease after each batch. */
export function phoneBackfillJob(deps: { sql: RootSql; log?: PhoneBackfillLog }): JobKind {
  return {
    concurrency: 1,
    async handler(_payload, ctx) {
      await runPhoneBackfill(deps.sql, {
        ...(deps.log ? { log: deps.log } : {}),
        afterBatch: async () => {
          if (ctx.signal.aborted) throw new Error('stopped');
          return ctx.renewLease();
        },
      });
    },
  };
}

/** One batch of a step, in one transaction with its saved position. */
export async function backfillBatch(sql: RootSql, step: PhoneBackfillStep, log?: PhoneBackfillLog): Promise<BatchResult> {
  return sql.begin(async (tx) => {
    const [at] = await tx<{ after_key: string | null; done_at: Date | null }[]>`
      select after_key, done_at from phone_backfill_steps where step = ${step} for update`;
    if (!at || at.done_at) return { rewritten: 0, conflicts: 0, done: true };
    const r = await WALKS[step](tx, at.after_key, log);
    await tx`
      update phone_backfill_steps set after_key = ${r.last}, rewritten = rewritten + ${r.rewritten},
        conflicts = conflicts + ${r.conflicts}, done_at = ${r.last === null ? tx`now()` : null}
      where step = ${step}`;
    return { rewritten: r.rewritten, conflicts: r.conflicts, done: r.last === null };
  });
}

/** What a batch did; `last` is the key to go on after, null at the step's end. */
interface Walked extends PhoneBackfillTotals {
  last: string | null;
}

async function numbersBatch(tx: Db, after: string | null, log?: PhoneBackfillLog): Promise<Walked> {
  const rows = await tx<HeldRow[]>`
    select number, company_id, claimed_at, released_at from phone_numbers
    ${after === null ? tx`` : tx`where number > ${after}`} order by number limit ${PHONE_BACKFILL_BATCH}`;
  if (rows.length === 0) return { rewritten: 0, conflicts: 0, last: null };
  const canonical = await canonicalSpellings(rows.map((r) => r.number));
  let rewritten = 0;
  let conflicts = 0;
  for (const row of rows) {
    const to = canonical.get(row.number)!;
    if (to === row.number) continue;
    conflicts += await moveHolding(tx, row, to, log);
    rewritten++;
  }
  return { rewritten, conflicts, last: rows[rows.length - 1]!.number };
}

interface HeldRow {
  number: string;
  company_id: string | null;
  claimed_at: Date | null;
  released_at: Date | null;
}

/**
 * Moves the holding of a long spelling, and the active bot answering it, onto the canonical spelling; the long
 * row is deleted. Returns the conflicts met (a company that loses the number, a bot deactivated).
 */
async function moveHolding(tx: Db, long: HeldRow, canonical: string, log?: PhoneBackfillLog): Promise<number> {
  const [held] = await tx<{ company_id: string | null }[]>`
    select company_id from phone_numbers where number = ${canonical} for update`;
  let keeper: string | null;
  if (held?.company_id) keeper = held.company_id;
  else if (long.company_id) {
    // Taken only while still free: a company that claimed it since the read above keeps it (and is the keeper).
    const took = await tx`
      insert into phone_numbers (number, company_id, claimed_at) values (${canonical}, ${long.company_id}, ${long.claimed_at})
      on conflict (number) do update set company_id = excluded.company_id, claimed_at = excluded.claimed_at, released_at = null
      where phone_numbers.company_id is null
      returning number`;
    keeper = took.length
      ? long.company_id
      : (await tx<{ company_id: string | null }[]>`select company_id from phone_numbers where number = ${canonical} for update`)[0]!.company_id;
  } else {
    keeper = null;
    await tx`
      insert into phone_numbers (number, released_at) values (${canonical}, ${long.released_at ?? new Date()})
      on conflict (number) do nothing`;
  }
  let conflicts = 0;
  if (long.company_id && long.company_id !== keeper) {
    conflicts++;
    log?.warn({ number: canonical, spelling: long.number, company_id: long.company_id, kept_by_company_id: keeper },
      'phone number held in two spellings: the holder of the canonical spelling keeps it');
    await recordConflict(tx, long.company_id, null, {
      number: canonical, spelling: long.number, outcome: 'number held by another company; this company no longer holds it',
    });
  }
  // At most one active bot answers the long spelling (bots_active_phone_uidx), and only its holder's (foreign key).
  const [bot] = await tx<{ id: string; company_id: string }[]>`
    select id, company_id from bots where active_phone_number = ${long.number} for update`;
  if (bot) {
    const [answering] = await tx<{ id: string }[]>`select id from bots where active_phone_number = ${canonical} for update`;
    if (bot.company_id === keeper && !answering) {
      await tx`update bots set phone_number = ${canonical}, updated_at = now() where id = ${bot.id}`;
    } else {
      conflicts++;
      const why = bot.company_id === keeper ? 'another active bot of this company answers the number' : 'another company holds the number';
      log?.warn({ bot_id: bot.id, company_id: bot.company_id, number: canonical, spelling: long.number, answering_bot_id: answering?.id ?? null, kept_by_company_id: keeper },
        `bot deactivated by the phone number backfill: ${why}`);
      await tx`update bots set is_active = false, phone_number = ${canonical}, updated_at = now() where id = ${bot.id}`;
      await recordConflict(tx, bot.company_id, bot.id, { number: canonical, spelling: long.number, outcome: `bot deactivated: ${why}` });
    }
  }
  await tx`delete from phone_numbers where number = ${long.number}`;
  return conflicts;
}

/** Where the company (GET /v1/audit) and the operator see what the backfill changed against them. */
async function recordConflict(tx: Db, companyId: string, botId: string | null, details: Record<string, string>): Promise<void> {
  await tx`
    insert into audit_log (company_id, actor, action, resource_id, details, status_code, request_id)
    values (${companyId}, 'system', ${PHONE_BACKFILL_ACTION}, ${botId}, ${tx.json(details)}, 200, ${PHONE_BACKFILL_JOB})`;
}

/**
 * Bots' numbers (those of inactive bots: an active bot's moved with its holding) and transfer numbers, without a
 * row lock (an edit of the bot is not held up). An active
 * bot still on a long spelling here had its holding written after the holdings step passed it — impossible since
 * every write stores the canonical form — and is left, not forced past the foreign key.
 */
async function botsBatch(tx: Db, after: string | null): Promise<Walked> {
  const rows = await tx<{ id: string; phone_number: string | null; transfer: string | null; is_active: boolean }[]>`
    select id, phone_number, config->>'transferNumber' as transfer, is_active from bots
    ${after === null ? tx`` : tx`where id > ${after}::uuid`} order by id limit ${PHONE_BACKFILL_BATCH}`;
  if (rows.length === 0) return { rewritten: 0, conflicts: 0, last: null };
  const canonical = await canonicalSpellings(rows.flatMap((r) => [r.phone_number, r.transfer]));
  let rewritten = 0;
  for (const r of rows) {
    const number = r.phone_number === null ? null : canonical.get(r.phone_number)!;
    const transfer = r.transfer === null ? null : canonical.get(r.transfer)!;
    const moveNumber = number !== r.phone_number && !r.is_active;
    if (!moveNumber && transfer === r.transfer) continue;
    // Each value is set only where it still holds what was read: an edit in between is never undone.
    await tx`
      update bots set
        phone_number = case when ${moveNumber} and not is_active and phone_number = ${r.phone_number} then ${number} else phone_number end,
        config = case when config->>'transferNumber' = ${r.transfer} then jsonb_set(config, '{transferNumber}', to_jsonb(${transfer}::text)) else config end,
        updated_at = now()
      where id = ${r.id}`;
    rewritten++;
  }
  return { rewritten, conflicts: 0, last: rows[rows.length - 1]!.id };
}

/**
 * Calls' numbers. No row lock (a live call's row is written by its own path): each column is set only where it
 * still holds the value read, so an erasure or a status update in between is never undone.
 */
async function callsBatch(tx: Db, after: string | null): Promise<Walked> {
  const rows = await tx<{ id: string; from_number: string | null; to_number: string | null }[]>`
    select id, from_number, to_number from calls
    ${after === null ? tx`` : tx`where id > ${after}::uuid`} order by id limit ${PHONE_BACKFILL_BATCH}`;
  if (rows.length === 0) return { rewritten: 0, conflicts: 0, last: null };
  const canonical = await canonicalSpellings(rows.flatMap((r) => [r.from_number, r.to_number]));
  const changed = rows.filter((r) =>
    (r.from_number !== null && canonical.get(r.from_number) !== r.from_number) || (r.to_number !== null && canonical.get(r.to_number) !== r.to_number));
  if (changed.length) {
    const ids = changed.map((r) => r.id);
    const oldFrom = changed.map((r) => r.from_number);
    const newFrom = changed.map((r) => (r.from_number === null ? null : canonical.get(r.from_number)!));
    const oldTo = changed.map((r) => r.to_number);
    const newTo = changed.map((r) => (r.to_number === null ? null : canonical.get(r.to_number)!));
    await tx`
      update calls c set
        from_number = case when c.from_number is not distinct from v.old_from then v.new_from else c.from_number end,
        to_number = case when c.to_number is not distinct from v.old_to then v.new_to else c.to_number end
      from (select unnest(${ids}::uuid[]) as id, unnest(${oldFrom}::text[]) as old_from, unnest(${newFrom}::text[]) as new_from,
                   unnest(${oldTo}::text[]) as old_to, unnest(${newTo}::text[]) as new_to) v
      where c.id = v.id`;
  }
  return { rewritten: changed.length, conflicts: 0, last: rows[rows.length - 1]!.id };
}

/**
 * A company's do-not-call entries and consents, keyed (company_id, phone). A long spelling is moved onto the
 * canonical one; where the company has both, they are one record, merged by the table's rule (`keepLong`: when the
 * long spelling's record is the one to keep) — never a conflict to report, as both are the company's own word.
 */
function companyPhoneBatch(table: 'dnc_numbers' | 'contact_consents', columns: readonly string[], keepLong: string) {
  return async (tx: Db, after: string | null): Promise<Walked> => {
    const [afterCompany, afterPhone] = after === null ? [null, null] : after.split(' ');
    const rows = await tx<{ company_id: string; phone: string }[]>`
      select company_id, phone from ${tx(table)}
      ${after === null ? tx`` : tx`where (company_id, phone) > (${afterCompany}::uuid, ${afterPhone})`}
      order by company_id, phone limit ${PHONE_BACKFILL_BATCH}`;
    if (rows.length === 0) return { rewritten: 0, conflicts: 0, last: null };
    const canonical = await canonicalSpellings(rows.map((r) => r.phone));
    let rewritten = 0;
    for (const r of rows) {
      const to = canonical.get(r.phone)!;
      if (to === r.phone) continue;
      const set = columns.map((c) => `${c} = excluded.${c}`).join(', ');
      await tx.unsafe(
        `with long as (delete from ${table} where company_id = $1 and phone = $2 returning *)
         insert into ${table} as kept (company_id, phone, ${columns.join(', ')})
         select company_id, $3, ${columns.join(', ')} from long
         on conflict (company_id, phone) do update set ${set} where ${keepLong}`,
        [r.company_id, r.phone, to]);
      rewritten++;
    }
    const last = rows[rows.length - 1]!;
    return { rewritten, conflicts: 0, last: `${last.company_id} ${last.phone}` };
  };
}

const WALKS: Record<PhoneBackfillStep, (tx: Db, after: string | null, log?: PhoneBackfillLog) => Promise<Walked>> = {
  phone_numbers: numbersBatch,
  bots: botsBatch,
  calls: callsBatch,
  // The first listing is kept, as a second listing of a listed number keeps the first (addDnc).
  dnc_numbers: companyPhoneBatch('dnc_numbers', ['source', 'reason', 'call_id', 'created_at'], 'excluded.created_at < kept.created_at'),
  // The latest record wins (setConsent); of two recorded at the same time, a refusal.
  contact_consents: companyPhoneBatch('contact_consents', ['voice', 'source', 'recorded_at', 'updated_at'],
    "excluded.recorded_at > kept.recorded_at or (excluded.recorded_at = kept.recorded_at and excluded.voice = 'denied')"),
};
