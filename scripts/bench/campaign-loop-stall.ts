/**
 * How long the campaign scheduler's window decisions hold the event loop (which carries every live call's audio).
 * A campaign of 10,000 contacts without a time_zone, of mixed countries — Russian mobiles (the country's 26 zones),
 * US and Canadian numbers (their area code's zone), Australian landlines and mobiles, Brazilian mobiles, one-zone
 * countries — is polled through the scheduler's real claim + decide path (`runOnce`, batches of BENCH_BATCH,
 * default 50) at a time when nobody's window is open (a Saturday: every contact is deferred to its next opening)
 * and on a weekday (some open: those are refused by a stub dialer, as a company at its outbound cap is).
 *
 * Prints: the cost of one decision (zones + window + next opening, the functions dial() calls) per kind of number
 * and over the whole list, p50 / p99 / max; and, per poll, the event loop's longest delay (perf_hooks
 * monitorEventLoopDelay), p50 / p99 / max over the polls. A poll's dials start together, so their decisions run
 * back to back in one turn of the loop: that delay is what every live call's audio waits.
 *
 *   npx tsx scripts/bench/campaign-loop-stall.ts                                  (embedded PGlite: its queries run
 *                                                                                  on this loop too, so they show in the delay)
 *   DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley npx tsx scripts/bench/campaign-loop-stall.ts
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { insertCampaign, insertContacts, transition } from '../../src/campaigns/repo.js';
import { CampaignScheduler, type CampaignDialer } from '../../src/campaigns/scheduler.js';
import { DEFAULT_WINDOWS, inWindow, nextOpening, zonesFor } from '../../src/campaigns/windows.js';
import { ParleyError } from '../../src/errors.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { insertDialingCompany } from './lib/dialing-company.js';

const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 10_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 50);
const SATURDAY = new Date('2026-03-07T12:00:00Z'); // Saturday everywhere from UTC−10 to UTC+12
const WEEKDAY = new Date('2026-03-10T06:30:00Z'); // Tuesday: open in Russia's west and Asia/Pacific, closed in the Americas

/** Number makers by kind, each i giving another subscriber. */
const KINDS: Record<string, (i: number) => string> = {
  'RU mobile': (i) => `+79${String(100_000_000 + (i % 800_000_000)).slice(0, 9)}`,
  'US/CA by area code': (i) => `+1${['212', '213', '312', '808', '907', '416', '604', '305', '602', '503'][i % 10]}555${String(1000 + (i % 9000))}`,
  'AU landline/mobile': (i) => ['+612', '+618', '+614'][i % 3] + String(10_000_000 + i).slice(0, 8),
  'BR mobile': (i) => `+55${['11', '21', '92', '68', '65'][i % 5]}9${String(70_000_000 + i).slice(0, 8)}`,
  'one-zone (GB, FR, DE, JP)': (i) => ['+4420794', '+336123', '+4915123', '+8190123'][i % 4] + String(100_000 + i).slice(-5),
};
const kindNames = Object.keys(KINDS);
const contacts = Array.from({ length: CONTACTS }, (_, i) => {
  const kind = kindNames[i % kindNames.length]!;
  return { kind, phone: KINDS[kind]!(i), name: null, time_zone: null, variables: {} };
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
};
const fmt = (xs: number[], unit = 'ms', digits = 2): string =>
  `p50 ${pct(xs, 50).toFixed(digits)} / p99 ${pct(xs, 99).toFixed(digits)} / max ${Math.max(...xs).toFixed(digits)} ${unit}`;

// 1. One decision, as dial() makes it, over the whole list (warmed first).
for (const at of [SATURDAY, WEEKDAY]) {
  const decide = (c: (typeof contacts)[number]): unknown => {
    const zones = zonesFor(c);
    return zones.length === 0 || inWindow(DEFAULT_WINDOWS, zones, at) || nextOpening(DEFAULT_WINDOWS, zones, at);
  };
  for (const c of contacts.slice(0, 500)) decide(c);
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  for (const c of contacts) {
    const t = performance.now();
    decide(c);
    const ms = performance.now() - t;
    all.push(ms);
    byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), ms]);
  }
  console.log(`decision at ${at.toISOString()} (${at === SATURDAY ? 'everyone closed' : 'mixed'}), all ${all.length}: ${fmt(all, 'ms', 3)}`);
  for (const [kind, xs] of byKind) console.log(`  ${kind}: ${fmt(xs, 'ms', 3)}`);
  // A poll's decisions run back to back: the list's contacts BATCH at a time (the kinds mixed, as claims come).
  const perPoll: number[] = [];
  for (let i = 0; i + BATCH <= all.length; i += BATCH) perPoll.push(all.slice(i, i + BATCH).reduce((a, b) => a + b, 0));
  console.log(`  ${BATCH} decisions back to back (one poll's): ${fmt(perPoll)}`);
}

// 2. The scheduler's poll: claim BATCH, decide each (all deferred or refused), write the verdicts.
const db = await createTestDb();
const sql = db.sql;
const { companyId, botId } = await insertDialingCompany(sql);
const campaign = await insertCampaign(sql, companyId, {
  bot_id: botId, name: 'Stall', starts_at: null, ends_at: null, windows: DEFAULT_WINDOWS, max_attempts: 3, retry_spacing_sec: 3600,
  concurrency: 500, require_consent: false, voicemail: 'hang_up', voicemail_message: null, purpose: null, conversion_outcomes: [],
});
await insertContacts(sql, companyId, campaign.id, contacts.map(({ kind: _kind, ...c }) => c));
await sql.begin((tx) => transition(tx, companyId, campaign.id, 'scheduled'));

// In the window: the dialer refuses as a company at its live-call cap does (deferred 5 s; no call, no Twilio).
const dialer: CampaignDialer = {
  place: () => Promise.reject(new ParleyError('PARLEY_ERR_RATE_LIMITED', 'bench: at the outbound cap')),
};
const silent = { warn: () => {}, error: (o: object, m: string) => console.error(m, o) };
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
for (const at of [SATURDAY, WEEKDAY]) {
  let clock = at;
  const scheduler = new CampaignScheduler({ sql, dialer, log: silent, now: () => clock, concurrency: BATCH });
  await sql`update campaign_contacts set state = 'pending', next_attempt_at = ${at}, deferred_reason = null where campaign_id = ${campaign.id}`;
  await scheduler.tick();
  const blocks: number[] = [];
  const polls: number[] = [];
  let decided = 0;
  // Each deferral moves the contact past this clock: the next poll claims the next batch.
  for (;;) {
    await new Promise((r) => setTimeout(r, 2));
    histogram.reset();
    const t = performance.now();
    const n = await scheduler.runOnce(BATCH);
    // The histogram samples on its timer: a block ending just now is recorded at the next tick.
    await new Promise((r) => setTimeout(r, 2));
    polls.push(performance.now() - t);
    if (n === 0) break;
    blocks.push(histogram.max / 1e6);
    decided += n;
    clock = new Date(at.getTime() + 1); // same minute, a fresh instant (as a real clock moves)
  }
  console.log(`poll at ${at.toISOString()}: ${decided} contacts in ${blocks.length} polls of ${BATCH}; `
    + `longest loop delay per poll ${fmt(blocks)}; poll wall ${fmt(polls, 'ms', 1)}`);
}
histogram.disable();
await db.close();
