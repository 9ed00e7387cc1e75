/**
 * Background CPU work is bounded so that no tenant's edits or uploads take the CPU from live calls: language-model
 * builds run one at a time however many bots ask at once, what they leave in memory and on disk is capped (least
 * recently used first), and worker threads and ingestion processes run at a background priority (Linux: nice per
 * thread, so the call loop keeps the default).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngestPool } from '../../src/knowledge/ingest-pool.js';
import { DEFAULT_INGEST_LIMITS } from '../../src/knowledge/limits.js';
import type { BuildRequest, BuiltModel } from '../../src/providers/stt/local-lm-build.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import { BACKGROUND_NICE } from '../../src/util/background-priority.js';
import { runWorkerTask } from '../../src/util/worker-task.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A builder that writes `bytes` per file after `ms`, and records how many builds ran at once. */
function slowBuilder(ms: number, bytes = 1000) {
  const seen = { running: 0, most: 0, builds: [] as string[] };
  const build = async (req: BuildRequest): Promise<BuiltModel> => {
    seen.running++;
    seen.most = Math.max(seen.most, seen.running);
    seen.builds.push(req.key);
    await new Promise((r) => setTimeout(r, ms));
    const lm = join(req.dir, `${req.key}.lm`);
    const dict = join(req.dir, `${req.key}.dict`);
    writeFileSync(lm, 'x'.repeat(bytes));
    writeFileSync(dict, 'x'.repeat(bytes));
    seen.running--;
    return { lm, dict, words: 1, unknown: [] };
  };
  return { seen, build };
}

function cacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-lm-bounds-'));
  dirs.push(dir);
  return dir;
}

describe('language-model builds', () => {
  it('eight bots asking at once are built one at a time, and each gets its model', async () => {
    const { seen, build } = slowBuilder(20);
    const cache = new LanguageModelCache({ dir: cacheDir(), build });
    const asks = Array.from({ length: 8 }, (_, i) => cache.argsFor([`Bot ${i} Salon`, `Service ${i}`]));
    // Once every ask has looked on disk: one build runs, seven wait.
    for (let i = 0; i < 200 && cache.buildStats.waiting < 7; i++) await new Promise((r) => setTimeout(r, 1));
    expect(cache.buildStats).toEqual({ running: 1, waiting: 7 });
    const args = await Promise.all(asks);
    expect(seen.most).toBe(1);
    expect(seen.builds).toHaveLength(8);
    expect(new Set(args.map((a) => a[1])).size).toBe(8);
    expect(cache.buildStats).toEqual({ running: 0, waiting: 0 });
  });

  it('keeps at most maxModels in memory: a forgotten model is found on disk again, not rebuilt', async () => {
    const { seen, build } = slowBuilder(1);
    const cache = new LanguageModelCache({ dir: cacheDir(), build, maxModels: 2 });
    for (const name of ['A', 'B', 'C']) await cache.argsFor([name]);
    expect((cache as unknown as { models: Map<string, unknown> }).models.size).toBe(2);
    await cache.argsFor(['A']);
    expect(seen.builds).toHaveLength(3);
  });

  it('keeps at most maxDiskBytes of files, removing the least recently used, and rebuilds one asked for again', async () => {
    const dir = cacheDir();
    const { seen, build } = slowBuilder(1, 1000);
    // Two models' files (2 × 2,000 bytes) fit; a third pushes the least recently used out.
    const cache = new LanguageModelCache({ dir, build, maxDiskBytes: 4500 });
    const a = await cache.argsFor(['A']);
    await cache.argsFor(['B']);
    await cache.argsFor(['A']); // used again: B is now the least recently used
    await cache.argsFor(['C']);
    await (cache as unknown as { pruning: Promise<void> | null }).pruning;
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(4);
    expect(files).toContain(`${cache.keyOf(['A'])}.lm`);
    expect(files).not.toContain(`${cache.keyOf(['B'])}.lm`);
    expect(await cache.argsFor(['A'])).toEqual(a);
    await cache.argsFor(['B']);
    expect(seen.builds.filter((k) => k === cache.keyOf(['B']))).toHaveLength(2);
  });
});

describe.runIf(process.platform === 'linux')('background priority', () => {
  const niceOf = (pid: number, tid: number | string): number => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  };

  it('a worker task\'s thread runs at the background nice value; the calling thread keeps its own', async () => {
    const before = niceOf(process.pid, process.pid);
    const nice = await runWorkerTask<null, number>(new URL('../helpers/thread-nice-worker.ts', import.meta.url).href, 'thread-nice-worker', null, { memoryMb: 64, timeoutMs: 30_000 });
    expect(nice).toBe(BACKGROUND_NICE);
    expect(niceOf(process.pid, process.pid)).toBe(before);
  });

  it('every thread of an ingestion worker process runs at the background nice value', async () => {
    const pool = new IngestPool({ size: 1, memoryMb: 128 });
    try {
      await pool.run({
        documentId: '00000000-0000-4000-8000-000000000000', kind: 'md', bytes: new TextEncoder().encode('# Hours\n\nWe open at nine.'),
        chunkSize: 800, chunkOverlap: 120, limits: DEFAULT_INGEST_LIMITS, localEmbedDimensions: null,
      });
      const { pid } = (pool as unknown as { slots: { worker: { pid: number } }[] }).slots[0]!.worker;
      const threads = readdirSync(`/proc/${pid}/task`);
      expect(threads.length).toBeGreaterThan(1);
      expect(threads.map((t) => niceOf(pid, t))).toEqual(threads.map(() => BACKGROUND_NICE));
    } finally {
      await pool.close();
    }
  });
});
