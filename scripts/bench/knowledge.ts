/**
 * Knowledge-base benchmark: ingestion throughput (pages/s, local embedder, generated PDFs) and retrieval latency
 * p50/p95/p99 on 10,000 and 100,000 chunks of one bot in the embedded store (vector query alone and full hybrid
 * search). PGlite by default; with DATABASE_URL a fresh database on that server.
 *   npx tsx scripts/bench/knowledge.ts [--sizes 10000,100000] [--pages 40] [--queries 300]
 *
 * --event-loop: instead, what searches on one bot at the chunk cap (--cap, default KNOWLEDGE_MAX_CHUNKS_PER_BOT's
 * 50,000) do to the event loop every other tenant's calls run on: the longest event-loop delay during each vector
 * query (local and dense question vectors), scoring the whole matrix at once (before) and in slices (after), the
 * queries alternating so that both see the same machine, beside an idle wait (the machine's own noise); and the
 * longest delay while the bot's matrix is read for the first time (--loads cold reads, each by a fresh store).
 *   npx tsx scripts/bench/knowledge.ts --event-loop [--cap 50000] [--queries 300] [--loads 5]
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { RootSql } from '../../src/db/sql.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { PgVectorStore } from '../../src/knowledge/pg-vector-store.js';
import { chunkId, insertChunks, type ChunkRow } from '../../src/knowledge/repo.js';
import { Retriever } from '../../src/knowledge/retrieve.js';
import { LocalEmbedder } from '../../src/providers/embeddings/local.js';
import { makePdf } from '../../tests/fixtures/knowledge/generate.js';
import { createBot } from '../../tests/fixtures/knowledge/kb.js';
import { createTestDb } from '../../tests/helpers/db.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    pages: { type: 'string', default: '40' },
    queries: { type: 'string', default: '300' },
    'event-loop': { type: 'boolean', default: false },
    cap: { type: 'string', default: '50000' },
    loads: { type: 'string', default: '5' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const pages = Number(values.pages);
const queries = Number(values.queries);

const WORDS = (
  'appointment booking cancel reschedule price cost payment insurance card cash clinic doctor dentist cleaning ' +
  'whitening implant crown braces aligner child parking address street floor building hours open close monday ' +
  'friday saturday sunday holiday emergency pain swelling tooth gum check consultation scan treatment month year ' +
  'week minute discount loyalty member visit free fee policy refund deposit online phone email reception waiting ' +
  'room wheelchair access elevator metro bus station garden coffee wifi children parent guardian consent form'
).split(' ');

let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

// A Zipf-distributed vocabulary (the domain words plus 4,000 pronounceable pseudo-words), so term frequencies
// look like real text: a few words everywhere, most words rare.
const SYLLABLES = ['ka', 'lo', 'mi', 'ter', 'son', 'ra', 'vel', 'din', 'po', 'sha', 'gre', 'tu', 'bin', 'ro', 'ne', 'qua', 'fi', 'dor'];
const VOCAB = [...WORDS];
while (VOCAB.length < WORDS.length + 4000) {
  const n = 2 + Math.floor(rand() * 3);
  VOCAB.push(Array.from({ length: n }, () => SYLLABLES[Math.floor(rand() * SYLLABLES.length)]).join(''));
}
const CUMULATIVE: number[] = [];
VOCAB.reduce((acc, _w, r) => (CUMULATIVE[r] = acc + 1 / (r + 1)), 0);
const word = () => {
  const x = rand() * CUMULATIVE[CUMULATIVE.length - 1]!;
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCAB[lo]!;
};
const sentence = () => {
  const n = 8 + Math.floor(rand() * 10);
  const w = Array.from({ length: n }, word);
  return `${w.join(' ').replace(/^./, (c) => c.toUpperCase())}.`;
};
const paragraph = (sentences: number) => Array.from({ length: sentences }, sentence).join(' ');

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(2)} ms  p95 ${pct(xs, 95).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms`;

async function benchIngestion(sql: RootSql, embedder: LocalEmbedder, store: PgVectorStore) {
  const bot = await createBot(sql, 'en', 'Bench ingest');
  const sections = Array.from({ length: pages }, (_, i) => ({ heading: `Section ${i + 1}`, paragraphs: [paragraph(6), paragraph(6), paragraph(5)] }));
  const pdf = await makePdf(sections);
  const deps = { sql, embedder, store, chunkSize: 800, chunkOverlap: 120 };
  const t0 = performance.now();
  const { document } = await acceptUpload({ sql, store, maxUploadBytes: 50 * 1024 * 1024 }, { ...bot, filename: 'bench.pdf', bytes: pdf });
  const outcome = await ingestDocument(deps, document.id);
  const ms = performance.now() - t0;
  const [row] = await sql<{ chunk_count: number }[]>`select chunk_count from knowledge_documents where id = ${document.id}`;
  console.log(`ingestion: ${pages}-page PDF (${(pdf.length / 1024).toFixed(0)} KiB) → ${row!.chunk_count} chunks, ${outcome}, ${ms.toFixed(0)} ms = ${((pages / ms) * 1000).toFixed(1)} pages/s`);
}

async function fillBot(sql: RootSql, embedder: LocalEmbedder, store: PgVectorStore, botId: string, companyId: string, count: number) {
  const [doc] = await sql<{ id: string }[]>`
    insert into knowledge_documents (company_id, bot_id, filename, content_type, kind, size_bytes, sha256, status)
    values (${companyId}, ${botId}, 'synthetic.txt', 'text/plain', 'txt', 0, ${`synthetic-${count}`}, 'ready') returning id`;
  const batch = 2000;
  const t0 = performance.now();
  for (let i = 0; i < count; i += batch) {
    const rows: ChunkRow[] = Array.from({ length: Math.min(batch, count - i) }, (_, j) => ({
      id: chunkId(doc!.id, i + j),
      companyId,
      botId,
      documentId: doc!.id,
      ordinal: i + j,
      text: paragraph(4),
      page: null,
      section: `Section ${(i + j) % 200}`,
      tsConfig: 'english',
      createdAt: new Date(),
    }));
    const vectors = await embedder.embed(rows.map((r) => `${r.section}\n${r.text}`));
    await sql.begin(async (tx) => {
      await insertChunks(tx, rows);
      await store.upsert(
        rows.map((r, k) => ({ id: r.id, vector: vectors[k]!, payload: { doc_id: r.documentId, bot_id: botId, company_id: companyId, text: r.text, source: 'synthetic.txt', page: null, section: r.section, created_at: r.createdAt.toISOString() } })),
        tx,
      );
    });
  }
  return performance.now() - t0;
}

async function benchRetrieval(sql: RootSql, embedder: LocalEmbedder, count: number) {
  const store = new PgVectorStore({ sql, dimensions: embedder.dimensions });
  const bot = await createBot(sql, 'en', `Bench ${count}`);
  const fillMs = await fillBot(sql, embedder, store, bot.botId, bot.companyId, count);
  const retriever = new Retriever({ sql, embedder, store, topK: 4 });
  const qs = Array.from({ length: queries }, () => Array.from({ length: 4 + Math.floor(rand() * 5) }, word).join(' '));

  const tCold = performance.now();
  const [v0] = await embedder.embed([qs[0]!]);
  await store.query(v0!, { ...bot, limit: 20 });
  const coldMs = performance.now() - tCold;

  const vectorMs: number[] = [];
  const hybridMs: number[] = [];
  for (const q of qs) {
    const t0 = performance.now();
    const [v] = await embedder.embed([q]);
    await store.query(v!, { ...bot, limit: 20 });
    vectorMs.push(performance.now() - t0);
    const t1 = performance.now();
    await retriever.search({ ...bot, language: 'en' }, q);
    hybridMs.push(performance.now() - t1);
  }
  console.log(`\n${count.toLocaleString('en')} chunks (one bot): loaded in ${(fillMs / 1000).toFixed(1)} s; cold cache load + first query ${coldMs.toFixed(0)} ms`);
  console.log(`  vector query (embed + store.query, warm): ${fmt(vectorMs)}`);
  console.log(`  hybrid search (vector + FTS + RRF + rows):  ${fmt(hybridMs)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `work` with the event-loop delay histogram reset around it: the longest and p99 delay, in ms. */
async function loopDelayDuring(work: () => Promise<unknown>): Promise<{ max: number; p99: number; ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  // The histogram's timer records a stretch the loop was held only when it next fires: let it.
  await sleep(3);
  h.disable();
  return { max: h.max / 1e6, p99: h.percentile(99) / 1e6, ms };
}

const unitVector = (dim: number): Float32Array => {
  const v = Float32Array.from({ length: dim }, () => rand() * 2 - 1);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};

/**
 * Before/after on the same bot, queries alternating so both see the same machine: `whole` scores the matrix in one
 * go (as the store did before slicing), `sliced` with the store's default slices. Per query, the longest
 * event-loop delay while it ran; an idle wait of the same kind gives the machine's own noise.
 */
async function benchEventLoop(sql: RootSql, embedder: LocalEmbedder, cap: number) {
  const bot = await createBot(sql, 'en', `Bench loop ${cap}`);
  const fillMs = await fillBot(sql, embedder, new PgVectorStore({ sql, dimensions: embedder.dimensions }), bot.botId, bot.companyId, cap);
  const sliced = new PgVectorStore({ sql, dimensions: embedder.dimensions });
  const whole = new PgVectorStore({ sql, dimensions: embedder.dimensions, scoreSliceMultiplyAdds: Number.MAX_SAFE_INTEGER });
  const qs = Array.from({ length: queries }, () => Array.from({ length: 4 + Math.floor(rand() * 5) }, word).join(' '));
  const sparse = await embedder.embed(qs);
  const dense = qs.map(() => unitVector(embedder.dimensions));
  console.log(`\nevent-loop delay, one bot at ${cap.toLocaleString('en')} chunks (filled in ${(fillMs / 1000).toFixed(1)} s):`);
  // First reads of the bot's matrix, each by a store that has none: the longest event-loop delay during each.
  const reads: { max: number; ms: number }[] = [];
  for (let i = 0; i < Math.max(1, Number(values.loads)); i++) {
    const cold = new PgVectorStore({ sql, dimensions: embedder.dimensions });
    reads.push(await loopDelayDuring(() => cold.prepare({ companyId: bot.companyId, botId: bot.botId })));
  }
  await sliced.prepare({ companyId: bot.companyId, botId: bot.botId });
  await whole.prepare({ companyId: bot.companyId, botId: bot.botId });
  const readMax = reads.map((r) => r.max);
  const readMs = reads.map((r) => r.ms);
  console.log(
    `  matrix read (cold, ${reads.length} first loads): ${pct(readMs, 50).toFixed(0)} ms p50; longest delay per load: ` +
      `p50 ${pct(readMax, 50).toFixed(1)} ms  max ${pct(readMax, 100).toFixed(1)} ms  (each: ${readMax.map((m) => m.toFixed(0)).join(', ')})`,
  );

  const line = (what: string, perQuery: number[], ms: number[]) =>
    console.log(`  ${what.padEnd(34)} longest delay per query: p50 ${pct(perQuery, 50).toFixed(1).padStart(6)} ms  p95 ${pct(perQuery, 95).toFixed(1).padStart(6)} ms  max ${pct(perQuery, 100).toFixed(1).padStart(6)} ms   query p50 ${pct(ms, 50).toFixed(1)} ms`);
  for (const [kind, vectors] of [['local', sparse], ['dense', dense]] as const) {
    const runs = { whole: { delay: [] as number[], ms: [] as number[] }, sliced: { delay: [] as number[], ms: [] as number[] }, idle: { delay: [] as number[], ms: [] as number[] } };
    for (const v of vectors) {
      for (const [name, store] of [['whole', whole], ['sliced', sliced]] as const) {
        const r = await loopDelayDuring(() => store.query(v, { ...bot, limit: 20, idsOnly: true }));
        runs[name].delay.push(r.max);
        runs[name].ms.push(r.ms);
      }
      const idle = await loopDelayDuring(() => sleep(5));
      runs.idle.delay.push(idle.max);
      runs.idle.ms.push(idle.ms);
    }
    console.log(` ${kind} question vectors (${vectors.length} queries each):`);
    line('before: whole matrix at once', runs.whole.delay, runs.whole.ms);
    line('after: in slices', runs.sliced.delay, runs.sliced.ms);
    line('idle 5 ms wait (machine noise)', runs.idle.delay, runs.idle.ms);
  }
}

const db = await createTestDb();
console.log(`knowledge bench on ${db.kind}${db.kind === 'pglite' ? ' (in-memory)' : ''}, Node ${process.version}, local embedder (384 dims)`);
try {
  const embedder = new LocalEmbedder();
  if (values['event-loop']) {
    await benchEventLoop(db.sql, embedder, Number(values.cap));
  } else {
    await benchIngestion(db.sql, embedder, new PgVectorStore({ sql: db.sql, dimensions: embedder.dimensions }));
    for (const n of sizes) await benchRetrieval(db.sql, embedder, n);
  }
} finally {
  await db.close();
}
