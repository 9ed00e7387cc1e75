/**
 * Webhook outbox benchmark: emit N events (default 10,000; 5 per call, ordered per call) and deliver them to a
 * local receiver that fails 30 % of first attempts with a 500. Prints emit rate, delivery throughput, attempts
 * and how many events were lost (must be 0).
 *
 *   npx tsx scripts/bench/webhooks.ts [events=10000] [concurrency=32]
 * Uses DATABASE_URL when set (a real server), else in-memory PGlite.
 */
import { openDatabase } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';
import { recordEvent, type WebhookEventType } from '../../src/webhooks/emit.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { FakeReceiver } from '../../tests/fakes/fakeReceiver.js';

const TOTAL = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = Number(process.argv[3] ?? 32);
const FAIL_FIRST = 0.3;
const TYPES: WebhookEventType[] = ['call.started', 'booking.created', 'call.ended', 'call.analyzed', 'booking.updated'];

const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: 'memory://' });
if (process.env.DATABASE_URL) {
  // A clean slate on a shared server is the operator's job; refuse to run on a database with events in it.
  await migrate(db.sql);
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
  if (row!.n > 0) throw new Error('DATABASE_URL points at a database that already has webhook events; use an empty one');
} else await migrate(db.sql);
const sql = db.sql;

const receiver = await FakeReceiver.start();
const seen = new Set<string>();
const okIds = new Set<string>();
let firstFailures = 0;
receiver.behaviour = (req) => {
  const id = req.json!.id!;
  if (!seen.has(id)) {
    seen.add(id);
    if (Math.random() < FAIL_FIRST) {
      firstFailures++;
      return { status: 500 };
    }
  }
  okIds.add(id);
  return { status: 200 };
};

const [company] = await sql<{ id: string }[]>`
  insert into companies (name, webhook_url, webhook_secret) values ('Bench', ${receiver.url}, ${generateWebhookSecret()}) returning id`;
const companyId = company!.id;

const emitStart = performance.now();
const BATCH = 500;
for (let i = 0; i < TOTAL; i += BATCH) {
  await sql.begin(async (tx) => {
    for (let j = i; j < Math.min(TOTAL, i + BATCH); j++) {
      const call = Math.floor(j / TYPES.length);
      await recordEvent(tx, { companyId, type: TYPES[j % TYPES.length]!, data: { call_id: `call-${call}`, n: j }, orderingKey: `call-${call}` });
    }
  });
}
const emitMs = performance.now() - emitStart;

const worker = new WebhookWorker(sql, {
  timeoutMs: 5_000,
  maxAgeMs: 3_600_000,
  allowHttp: true,
  allowPrivate: true,
  concurrency: CONCURRENCY,
  pollMs: 20,
  backoff: { baseMs: 50, maxMs: 500 },
});
const deliverStart = performance.now();
worker.start();
for (;;) {
  const [progress] = await sql<{ delivered: number; dead: number }[]>`
    select count(*) filter (where status = 'delivered')::int as delivered, count(*) filter (where status = 'dead')::int as dead
    from webhook_events where company_id = ${companyId}`;
  if (progress!.delivered + progress!.dead >= TOTAL) break;
  await new Promise((r) => setTimeout(r, 250));
}
const deliverMs = performance.now() - deliverStart;
await worker.stop();

const [stats] = await sql<{ delivered: number; dead: number; attempts: number; max_attempts: number }[]>`
  select count(*) filter (where status = 'delivered')::int as delivered, count(*) filter (where status = 'dead')::int as dead,
         coalesce(sum(attempts), 0)::int as attempts, coalesce(max(attempts), 0)::int as max_attempts
  from webhook_events where company_id = ${companyId}`;
const [attemptCount] = await sql<{ rows: number }[]>`select count(*)::int as rows from webhook_attempts where company_id = ${companyId}`;
const attemptRows = attemptCount!.rows;

// Order check: per call, the first successful arrival of each event follows emission order.
const firstOk = new Map<string, number[]>();
const counted = new Set<string>();
for (const r of receiver.requests) {
  if (r.answeredWith !== 200 || counted.has(r.json!.id!)) continue;
  counted.add(r.json!.id!);
  const call = String(r.json!.data!.call_id);
  const list = firstOk.get(call) ?? [];
  list.push(Number(r.json!.data!.n));
  firstOk.set(call, list);
}
const outOfOrder = [...firstOk.values()].filter((ns) => ns.some((n, i) => i > 0 && n < ns[i - 1]!)).length;

const lost = TOTAL - okIds.size;
console.log(`database: ${db.kind}; events: ${TOTAL}; worker concurrency: ${CONCURRENCY}; receiver fails ${FAIL_FIRST * 100}% of first attempts`);
console.log(`emit:      ${TOTAL} events in ${(emitMs / 1000).toFixed(2)} s = ${Math.round(TOTAL / (emitMs / 1000))} events/s (recordEvent in transactions of ${BATCH})`);
console.log(`delivery:  ${stats!.delivered} delivered, ${stats!.dead} dead in ${(deliverMs / 1000).toFixed(2)} s = ${Math.round(stats!.delivered / (deliverMs / 1000))} events/s`);
console.log(`attempts:  ${stats!.attempts} (${attemptRows} attempt rows; ${firstFailures} first-attempt failures; max ${stats!.max_attempts} for one event); receiver requests ${receiver.requests.length}`);
console.log(`lost:      ${lost}`);
console.log(`per-call order violations: ${outOfOrder} of ${firstOk.size} calls`);

await receiver.close();
await db.close();
process.exit(lost === 0 && outOfOrder === 0 ? 0 : 1);
