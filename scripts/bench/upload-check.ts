/**
 * How long a campaign upload holds the event loop that carries calls: the longest gap between 1 ms ticks of a
 * timer on the main thread.
 *
 * 1. The check alone, for one 10,000-contact CSV: on the loop itself (checkUpload, as before) and on a thread of
 *    its own (checkUploadOffLoop, what the routes do). What stall is left off the loop is the thread's start and
 *    the checked rows coming back (structured clone).
 * 2. Whole HTTP requests (app.inject through the full app: auth, body parsing, validation, the check, the insert)
 *    of 10,000-row JSON uploads: contacts (`POST /v1/campaigns/{id}/contacts`, ~3 MB, half with consent) and do-not-call numbers
 *    (`POST /v1/dnc`), each stored (200) and with its last row breaking the body's schema (400: only the body's
 *    parsing and validation, nothing stored).
 *
 * `npx tsx scripts/bench/upload-check.ts` (embedded PGlite, whose queries run on this same thread: the insert's
 * own stalls are in the 200 figures), or with DATABASE_URL=postgres://… for a PostgreSQL server (a database is
 * created on it and dropped). Under tsx the thread also loads tsx, which lengthens the off-loop wall time, not
 * the loop's stall.
 */
import { checkUpload, checkUploadOffLoop, uploadCheckSlots, type UploadCheckTask } from '../../src/campaigns/upload-check.js';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { botBody, createTestApp } from '../../tests/helpers/app.js';

/** Requests per case (BENCH_RUNS); the least stall of them is the one least disturbed by other work on the machine. */
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ROWS = 10_000;

async function worstGap(work: () => unknown): Promise<{ gapMs: number; wallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  last = t0;
  worst = 0;
  await work();
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { gapMs: worst, wallMs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ------------------------------------------------------------------------------------ 1. the check alone
const rows = Array.from({ length: ROWS }, (_, i) => `+1415555${String(i).padStart(4, '0')},Name ${i},City ${i % 50},granted`);
const task: UploadCheckTask = { kind: 'contacts-csv', csv: ['phone,name,city,consent_voice', ...rows].join('\n'), defaultCountry: 'US' };
for (let run = 1; run <= 3; run++) {
  const on = await worstGap(() => checkUpload(task));
  const off = await worstGap(() => checkUploadOffLoop(task, { slots: uploadCheckSlots(0), companyId: 'bench' }));
  console.log(`10,000-contact CSV (${(task.csv.length / 1e6).toFixed(2)} MB), run ${run}: on the loop — longest stall ${on.gapMs.toFixed(1)} ms; ` +
    `on its own thread — longest stall ${off.gapMs.toFixed(1)} ms (wall ${off.wallMs.toFixed(0)} ms, thread start included)`);
}

// ------------------------------------------------------------------------------------ 2. whole HTTP requests
const t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '100000' }, tenantRoutes: (db) => [campaignRoutes({ sql: db.sql, dialingAvailable: false })] });
try {
  const { apiKey } = await t.createCompany('Bench');
  const headers = { ...t.as(apiKey), 'content-type': 'application/json' };
  const post = (url: string, payload: unknown) => t.app.inject({ method: 'POST', url, headers, payload: JSON.stringify(payload) });
  const bot = (await post('/v1/bots', botBody())).json() as { id: string };
  const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];

  // The audit's rows: a name and three variables, ~300 bytes a contact; every other one with its voice consent.
  const contacts = (run: number) => Array.from({ length: ROWS }, (_, i) => ({
    phone: `+1212${String(2_000_000 + run * ROWS + i).padStart(7, '0')}`, name: 'Ann Lee',
    variables: { appointment_time: 'Friday at 3 pm and some more text here', doctor: 'Dr Smith of the clinic on Main St', note: 'x'.repeat(150) },
    ...(i % 2 ? { consent: { voice: 'granted', source: 'web form' } } : {}),
  }));
  const numbers = (run: number) => Array.from({ length: ROWS }, (_, i) => ({ phone: `+1313${String(2_000_000 + run * ROWS + i).padStart(7, '0')}`, reason: 'asked not to be called again' }));
  const lastRowTooLong = <T extends { phone: string }>(list: T[]): T[] => [...list.slice(0, -1), { ...list.at(-1)!, phone: '+1'.padEnd(41, '0') }];

  const cases: { name: string; request: (run: number) => Promise<{ url: string; body: string }> }[] = [
    {
      name: 'contacts JSON, stored (200)',
      request: async (run) => {
        const { id } = (await post('/v1/campaigns', { bot_id: bot.id, name: `Bench ${run}`, windows: ALWAYS })).json() as { id: string };
        return { url: `/v1/campaigns/${id}/contacts`, body: JSON.stringify({ contacts: contacts(run) }) };
      },
    },
    {
      name: 'contacts JSON, last row breaks the schema (400)',
      request: async (run) => {
        const { id } = (await post('/v1/campaigns', { bot_id: bot.id, name: `Bench bad ${run}`, windows: ALWAYS })).json() as { id: string };
        return { url: `/v1/campaigns/${id}/contacts`, body: JSON.stringify({ contacts: lastRowTooLong(contacts(run)) }) };
      },
    },
    { name: 'do-not-call JSON, stored (200)', request: async (run) => ({ url: '/v1/dnc', body: JSON.stringify({ numbers: numbers(run) }) }) },
    { name: 'do-not-call JSON, last row breaks the schema (400)', request: async (run) => ({ url: '/v1/dnc', body: JSON.stringify({ numbers: lastRowTooLong(numbers(run)) }) }) },
  ];
  for (const c of cases) {
    const stalls: number[] = [];
    const walls: number[] = [];
    let status = 0;
    let bytes = 0;
    // Run 0 warms up (the route's first request compiles its schemas); it is not counted.
    for (let run = 0; run <= RUNS; run++) {
      const { url, body } = await c.request(run);
      const m = await worstGap(async () => {
        status = (await t.app.inject({ method: 'POST', url, headers, payload: body })).statusCode;
      });
      bytes = body.length;
      if (run === 0) continue;
      stalls.push(m.gapMs);
      walls.push(m.wallMs);
    }
    console.log(`HTTP ${c.name}, ${ROWS} rows (${(bytes / 1e6).toFixed(2)} MB) → ${status}: longest stall per request ` +
      `min ${Math.min(...stalls).toFixed(1)} / median ${median(stalls).toFixed(1)} / max ${Math.max(...stalls).toFixed(1)} ms over ${RUNS} runs (wall median ${median(walls).toFixed(0)} ms)`);
  }
} finally {
  await t.close();
}
