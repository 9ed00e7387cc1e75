/**
 * Campaign scheduler benchmark: 10,000 contacts in two campaigns of one company — 8,000 numbers in
 * campaign A, 2,000 in campaign B that are also in A — dialled by two scheduler instances (two connection pools,
 * two pollers) through the real OutboundDialer against the fake Twilio on 127.0.0.1. Calls are ended as Twilio's
 * status callbacks would end them. The company's cap is 1 call per number per day, so the 2,000 shared numbers
 * must be called once, not twice.
 *
 * Prints: scheduling throughput (contacts decided per second: dialled, deferred by the cap, …), dials per second
 * sustained, double dials (numbers Twilio was asked to call more than once) and cap violations (a number with more
 * than one counted attempt on a local day). Needs DATABASE_URL (PostgreSQL); runs on a fresh database it drops.
 *
 *   DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley npm run bench:campaigns
 */
import { insertCampaign, insertContacts, transition } from '../../src/campaigns/repo.js';
import { putPolicy } from '../../src/campaigns/suppression.js';
import { CampaignScheduler } from '../../src/campaigns/scheduler.js';
import { openDatabase } from '../../src/db/connect.js';
import { endCallInTx } from '../../src/call/lifecycle.js';
import { OutboundDialer } from '../../src/telephony/twilio/outbound.js';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { FakeTwilioRest } from '../../tests/fakes/fakeTwilioRest.js';
import { createTestDb } from '../../tests/helpers/db.js';
import { insertDialingCompany } from './lib/dialing-company.js';

const TOTAL_A = Number(process.env.BENCH_CONTACTS_A ?? 8000);
const SHARED_B = Number(process.env.BENCH_CONTACTS_B ?? 2000);
const ZONES = ['America/New_York', 'America/Chicago', 'America/Los_Angeles', 'Europe/London', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'UTC'];
const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];

if (!process.env.DATABASE_URL) {
  console.error('bench:campaigns needs DATABASE_URL (a PostgreSQL server): two instances share one database.');
  process.exit(2);
}

const silent = { warn: () => {}, error: (o: object, m: string) => console.error(m, o) };
const db = await createTestDb();
const fake = await FakeTwilioRest.start();
const instances = await Promise.all([0, 1].map(() => openDatabase({ databaseUrl: db.url!, dataDir: 'memory://', poolMax: 10 })));
const sql = db.sql;

const { companyId, botId } = await insertDialingCompany(sql);
await putPolicy(sql, companyId, { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: [] });

const phone = (i: number) => `+1212${String(5_000_000 + i)}`;
const contact = (i: number) => ({ phone: phone(i), name: `Contact ${i}`, time_zone: ZONES[i % ZONES.length]!, variables: { n: String(i) } });
const base = {
  bot_id: botId, starts_at: null, ends_at: null, windows: ALWAYS, max_attempts: 1, retry_spacing_sec: 3600, concurrency: 250,
  require_consent: false, voicemail: 'hang_up' as const, voicemail_message: null, purpose: null, conversion_outcomes: [],
};
const a = await insertCampaign(sql, companyId, { ...base, name: 'A' });
const b = await insertCampaign(sql, companyId, { ...base, name: 'B' });
const t0 = performance.now();
await insertContacts(sql, companyId, a.id, Array.from({ length: TOTAL_A }, (_, i) => contact(i)));
await insertContacts(sql, companyId, b.id, Array.from({ length: SHARED_B }, (_, i) => contact(i)));
const insertMs = performance.now() - t0;
for (const c of [a, b]) await sql.begin((tx) => transition(tx, companyId, c.id, 'scheduled'));

const schedulers = instances.map((inst) => {
  const rest = new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, timeoutMs: 5000 });
  const dialer = new OutboundDialer({ sql: inst.sql, rest, publicOrigin: 'https://bench.example.com', maxActivePerCompany: 100_000 });
  return new CampaignScheduler({ sql: inst.sql, dialer, log: silent, concurrency: 32, pollMs: 100 });
});

// Twilio's status callbacks, in bulk: every live call of the company ends as answered and completed.
let ending = true;
const ender = (async () => {
  while (ending) {
    const live = await sql<{ id: string }[]>`select id from calls where company_id = ${companyId} and ended_at is null and twilio_call_sid is not null limit 500`;
    for (const c of live) {
      await sql.begin((tx) => endCallInTx(tx, { callId: c.id, companyId }, { status: 'completed', reason: 'caller_hangup' }, { by: 'telephony', durationSec: 30 }));
    }
    if (live.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
})();

const start = performance.now();
let lastDialAt = start;
let seen = 0;
for (const s of schedulers) s.start();
for (;;) {
  await new Promise((r) => setTimeout(r, 250));
  const creates = fake.requests.length;
  if (creates !== seen) {
    seen = creates;
    lastDialAt = performance.now();
  }
  const [left] = await sql<{ n: number }[]>`
    select count(*)::int as n from campaign_contacts
    where company_id = ${companyId} and (state in ('dialing', 'live') or (state = 'pending' and next_attempt_at <= now()))`;
  if (left!.n === 0) break;
  if (performance.now() - start > 600_000) throw new Error('benchmark did not finish in 10 minutes');
}
const decidedMs = performance.now() - start;
await Promise.all(schedulers.map((s) => s.stop(5000)));
ending = false;
await ender;

const perNumber = new Map<string, number>();
for (const r of fake.requests) if (r.path.endsWith('/Calls.json')) perNumber.set(r.form.get('To')!, (perNumber.get(r.form.get('To')!) ?? 0) + 1);
const dials = [...perNumber.values()].reduce((x, y) => x + y, 0);
const doubles = [...perNumber.values()].filter((n) => n > 1).length;
const [caps] = await sql<{ n: number }[]>`
  select count(*)::int as n from (select phone, local_day from campaign_attempts where company_id = ${companyId} and counted
    group by phone, local_day having count(*) > 1) v`;
const states = await sql<{ state: string; reason: string | null; n: number }[]>`
  select state, coalesce(deferred_reason, skip_reason, last_outcome) as reason, count(*)::int as n from campaign_contacts
  where company_id = ${companyId} group by 1, 2 order by 3 desc`;
const dialSec = (lastDialAt - start) / 1000;

console.log(`campaign bench on PostgreSQL: ${TOTAL_A + SHARED_B} contacts (${TOTAL_A} in A, ${SHARED_B} in B also in A), 2 scheduler instances, cap 1/number/day`);
console.log(`  contacts inserted            ${((TOTAL_A + SHARED_B) / (insertMs / 1000)).toFixed(0)} /s`);
console.log(`  scheduling throughput        ${((TOTAL_A + SHARED_B) / (decidedMs / 1000)).toFixed(0)} contacts decided/s (${(decidedMs / 1000).toFixed(1)} s for all)`);
console.log(`  dials sustained              ${(dials / dialSec).toFixed(0)} dials/s (${dials} dials in ${dialSec.toFixed(1)} s)`);
console.log(`  distinct numbers dialled     ${perNumber.size} of ${TOTAL_A}`);
console.log(`  double dials                 ${doubles}`);
console.log(`  cap violations               ${caps!.n}`);
console.log(`  contacts by state            ${states.map((s) => `${s.state}${s.reason ? `:${s.reason}` : ''}=${s.n}`).join(', ')}`);

await Promise.all(instances.map((i) => i.close()));
await fake.close();
await db.close();
if (doubles > 0 || caps!.n > 0 || perNumber.size !== TOTAL_A) process.exit(1);
