/**
 * A burst of concurrent contact uploads against one process: what it costs the server while it lasts.
 *
 * BURST (default 30) `POST /v1/campaigns/{id}/contacts/csv` requests of 10,000 rows each, all sent at once through
 * the full app (app.inject: auth, body parsing, the check on its worker thread, the insert), from one company, then
 * the same number split between three companies. Printed per burst: the answers by status, the peak number of
 * threads of this process above what it had before (/proc/self/status; each upload check is one worker thread),
 * the peak RSS, and the longest stall of the event loop (the longest gap between 1 ms ticks of a timer on the main
 * thread, the loop that carries live calls).
 *
 * `npx tsx scripts/bench/upload-burst.ts` (embedded PGlite), or with DATABASE_URL=postgres://… for a PostgreSQL
 * server (a database is created on it and dropped). For a before/after, run it from a git worktree of the older
 * commit as well: it uses only the routes' long-standing options (the routes' own default bound on upload checks).
 */
import { readFileSync } from 'node:fs';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { botBody, createTestApp } from '../../tests/helpers/app.js';

const BURST = Number(process.env.BURST ?? 30);
const ROWS = 10_000;

/** Threads of this process now (Linux), or NaN elsewhere. */
function threadCount(): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  } catch {
    return Number.NaN;
  }
}

interface Peaks { threads: number; rssMb: number; stallMs: number }

/** Samples threads and RSS every ms while `work` runs, and the longest gap between those samples (the loop's stall). */
async function watch(work: () => Promise<unknown>): Promise<Peaks> {
  const peaks: Peaks = { threads: 0, rssMb: 0, stallMs: 0 };
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    peaks.stallMs = Math.max(peaks.stallMs, now - last);
    last = now;
    peaks.threads = Math.max(peaks.threads, threadCount());
    peaks.rssMb = Math.max(peaks.rssMb, process.memoryUsage.rss() / 1e6);
  }, 1);
  last = performance.now();
  await work();
  clearInterval(timer);
  return peaks;
}

const csv = (offset: number): string =>
  ['phone,name,city,consent_voice', ...Array.from({ length: ROWS }, (_, i) => `+1212${String(1_000_000 + offset + i).padStart(7, '0')},Name ${i},City ${i % 50},granted`)].join('\n');

const t = await createTestApp({ env: { RATE_LIMIT_PER_MIN: '1000000' }, tenantRoutes: (db) => [campaignRoutes({ sql: db.sql, dialingAvailable: false })] });
try {
  const companies = await Promise.all([1, 2, 3].map(async (n) => {
    const { apiKey } = await t.createCompany(`Bench ${n}`);
    const headers = { ...t.as(apiKey), 'content-type': 'application/json' };
    const bot = (await t.app.inject({ method: 'POST', url: '/v1/bots', headers, payload: JSON.stringify(botBody()) })).json() as { id: string };
    return { headers: t.as(apiKey), jsonHeaders: headers, botId: bot.id };
  }));
  const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' }];
  let uploads = 0;
  /** One upload of ROWS new numbers into a new campaign of the company. */
  const prepare = async (company: (typeof companies)[number]) => {
    const n = uploads++;
    const res = await t.app.inject({ method: 'POST', url: '/v1/campaigns', headers: company.jsonHeaders, payload: JSON.stringify({ bot_id: company.botId, name: `Burst ${n}`, windows: ALWAYS }) });
    const { id } = res.json() as { id: string };
    const body = csv(n * ROWS);
    return async () => ({ company: companies.indexOf(company), res: await t.app.inject({ method: 'POST', url: `/v1/campaigns/${id}/contacts/csv`, headers: { ...company.headers, 'content-type': 'text/csv' }, payload: body }) });
  };

  // One upload first, alone: the route's schemas compiled, tsx's loader warm.
  await (await prepare(companies[0]!))();
  for (const spread of [1, 3]) {
    const sends = await Promise.all(Array.from({ length: BURST }, (_, i) => prepare(companies[i % spread]!)));
    const idleThreads = threadCount();
    const idleRssMb = process.memoryUsage.rss() / 1e6;
    const statuses = new Map<string, number>();
    const t0 = performance.now();
    const peaks = await watch(() => Promise.all(sends.map(async (send) => {
      const { company, res } = await send();
      const answer = `${res.statusCode} to company ${company + 1}`;
      statuses.set(answer, (statuses.get(answer) ?? 0) + 1);
    })));
    const wallMs = performance.now() - t0;
    console.log(`${BURST} concurrent ${ROWS}-row CSV uploads from ${spread} compan${spread === 1 ? 'y' : 'ies'}: ` +
      `answers ${[...statuses].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${n}× ${s}`).join(', ')}; ` +
      `peak threads +${peaks.threads - idleThreads} (idle ${idleThreads}); peak RSS ${peaks.rssMb.toFixed(0)} MB (idle ${idleRssMb.toFixed(0)}); ` +
      `longest event-loop stall ${peaks.stallMs.toFixed(0)} ms; wall ${wallMs.toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  await t.close();
}
