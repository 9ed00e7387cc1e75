/**
 * Per-bot language models for the local recognizer: the pocketsphinx counterpart of Deepgram's keyterms. A model
 * is built from the bot's terms (its services, aliases, staff and business name: the session's `keyterms`) mixed
 * with everyday and booking English (local-lm-corpus.ts), in a worker thread (local-lm-worker.ts), once per set
 * of terms: the files are kept under `dir` by a hash of the terms and the builder's version, so a restarted
 * server, or a second worker process, reuses them. Concurrent requests for the same terms share one build.
 *
 * `argsFor` resolves to pocketsphinx arguments (`-lm`, `-dict`); a caller that cannot wait (a call about to start)
 * races it against a deadline and falls back to the installed generic model, and the next call gets the bot's.
 *
 * Answer models (`expected`: a name, a spelling, a number, a time, a yes/no) are the same terms' models for the
 * answer to one kind of question (local-lm-build.ts). `prepareAnswers` queues them one after another behind
 * whatever is building; `answerArgs` hands out a built one at once or null — the start of an utterance never waits.
 *
 * Every tenant's edit of its services makes a new set of terms, so the builds are bounded like any background
 * work: `buildConcurrency` at a time (one by default; the rest wait their turn), each on a thread at background
 * priority with a heap limit and a deadline (runWorkerTask), and what is kept is capped — `maxModels` sets of
 * arguments in memory and `maxDiskBytes` of files under `dir`, the least recently used removed first.
 */
import { createHash } from 'node:crypto';
import { access, readdir, stat, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runWorkerTask } from '../../util/worker-task.js';
import { DEFAULT_DICTIONARY, tokenize, type BuildRequest, type BuiltModel } from './local-lm-build.js';
import type { ExpectedInput } from '../types.js';

/** Bump when the corpus or the estimator changes, so cached files from an older build are not reused. */
const BUILDER_VERSION = 6;

export interface LanguageModelCacheOptions {
  /** Where models are kept. Default: <tmpdir>/parley-lm. */
  dir?: string;
  /** The pronouncing dictionary of the installed acoustic model. */
  dictionary?: string;
  /** Test hook: builds in place of the worker thread. */
  build?: (req: BuildRequest) => Promise<BuiltModel>;
  /** Builds running at once; the others wait. Default 1. */
  buildConcurrency?: number;
  /** Sets of model arguments kept in memory. Default 512. */
  maxModels?: number;
  /** Model files kept under `dir`, bytes; past it the least recently used go. Default 1 GiB (~40 bots' models). */
  maxDiskBytes?: number;
}

/** A build takes ~2 s alone on one core; one that runs this long is stuck (its thread is ended). */
const BUILD_TIMEOUT_MS = 120_000;
const BUILD_MEMORY_MB = 512;

function buildInWorker(req: BuildRequest): Promise<BuiltModel> {
  return runWorkerTask<BuildRequest, BuiltModel>(import.meta.url, 'local-lm-worker', req, { memoryMb: BUILD_MEMORY_MB, timeoutMs: BUILD_TIMEOUT_MS })
    .catch((err: unknown) => {
      throw new Error(`building the language model failed: ${err instanceof Error ? err.message : String(err)}`);
    });
}

export class LanguageModelCache {
  private readonly dir: string;
  private readonly dictionary: string;
  private readonly build: (req: BuildRequest) => Promise<BuiltModel>;
  private readonly buildConcurrency: number;
  private readonly maxModels: number;
  private readonly maxDiskBytes: number;
  /** By key, least recently used first (a use moves a key to the end). */
  private readonly models = new Map<string, Promise<string[]>>();
  /** Models already built, for a caller that cannot wait at all (the start of an utterance). Same order. */
  private readonly built = new Map<string, string[]>();
  /** Answer models are built one after another, behind the bots' own: they are a refinement, never urgent. */
  private answerQueue: Promise<unknown> = Promise.resolve();
  private readonly queued = new Set<string>();
  private building = 0;
  private readonly waiting: (() => void)[] = [];
  private pruning: Promise<void> | null = null;
  private pruneAgain = false;

  constructor(options: LanguageModelCacheOptions = {}) {
    this.dir = options.dir ?? join(tmpdir(), 'parley-lm');
    this.dictionary = options.dictionary ?? DEFAULT_DICTIONARY;
    this.build = options.build ?? buildInWorker;
    this.buildConcurrency = Math.max(1, options.buildConcurrency ?? 1);
    this.maxModels = Math.max(1, options.maxModels ?? 512);
    this.maxDiskBytes = options.maxDiskBytes ?? 1024 * 1024 * 1024;
  }

  /** Builds started and not finished (at most buildConcurrency), and builds waiting for a turn. */
  get buildStats(): { running: number; waiting: number } {
    return { running: this.building, waiting: this.waiting.length };
  }

  /** The cache key of a set of terms (and the answer expected): order, case and punctuation do not matter. */
  keyOf(terms: readonly string[], expected?: ExpectedInput): string {
    const words = [...new Set(terms.map((t) => tokenize(t).join(' ')).filter(Boolean))].sort();
    const parts: unknown[] = [BUILDER_VERSION, this.dictionary, words];
    if (expected) parts.push(expected);
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);
  }

  /**
   * `-lm` and `-dict` arguments for a model of these terms — for the answer to one kind of question when
   * `expected` is given; builds it (once) when it is not on disk yet.
   */
  argsFor(terms: readonly string[], expected?: ExpectedInput): Promise<string[]> {
    const key = this.keyOf(terms, expected);
    let model = this.models.get(key);
    if (model) {
      this.touch(key);
      return model;
    }
    model = this.load(key, [...terms], expected);
    this.models.set(key, model);
    this.forgetOldest();
    void model.then(
      (args) => {
        if (this.models.get(key) === model) this.built.set(key, args);
      },
      // A failed build is not cached: the next call tries again.
      () => {
        if (this.models.get(key) === model) this.models.delete(key);
      },
    );
    return model;
  }

  /** The answer model's arguments if it is built; otherwise null, and it is queued to be built. Never waits. */
  answerArgs(terms: readonly string[], expected: ExpectedInput): string[] | null {
    const key = this.keyOf(terms, expected);
    const ready = this.built.get(key);
    if (ready) {
      this.touch(key);
      return ready;
    }
    if (!this.models.has(key)) this.prepareAnswers(terms, [expected]);
    return null;
  }

  /** Queues the answer models of these terms (already built or on disk: nothing to do). */
  prepareAnswers(terms: readonly string[], kinds: readonly ExpectedInput[] = ANSWER_KINDS): void {
    for (const kind of kinds) {
      const key = this.keyOf(terms, kind);
      if (this.models.has(key) || this.queued.has(key)) continue;
      this.queued.add(key);
      // A failure is retried on the next request; it must not stop the queue.
      this.answerQueue = this.answerQueue
        .then(() => this.argsFor(terms, kind))
        .catch(() => undefined)
        .finally(() => this.queued.delete(key));
    }
  }

  private async load(key: string, terms: string[], expected?: ExpectedInput): Promise<string[]> {
    const lm = join(this.dir, `${key}.lm`);
    const dict = join(this.dir, `${key}.dict`);
    try {
      await Promise.all([access(lm), access(dict)]);
      // Used again: the files' time says so, for the pruning of the least recently used (in other processes too).
      const now = new Date();
      await Promise.all([utimes(lm, now, now), utimes(dict, now, now)]).catch(() => {});
      return ['-lm', lm, '-dict', dict];
    } catch {
      const built = await this.inTurn(() => this.build({ terms, dictionary: this.dictionary, dir: this.dir, key, ...(expected ? { expected } : {}) }));
      void this.pruneDisk();
      return ['-lm', built.lm, '-dict', built.dict];
    }
  }

  /** Runs `work` when fewer than buildConcurrency builds are running; the others wait, first come first served. */
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    while (this.building >= this.buildConcurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.building++;
    try {
      return await work();
    } finally {
      this.building--;
      this.waiting.shift()?.();
    }
  }

  private touch(key: string): void {
    const model = this.models.get(key);
    if (model) {
      this.models.delete(key);
      this.models.set(key, model);
    }
    const args = this.built.get(key);
    if (args) {
      this.built.delete(key);
      this.built.set(key, args);
    }
  }

  /** Forgets the least recently used models past maxModels (their files stay; a later use finds them on disk). */
  private forgetOldest(): void {
    for (const key of this.models.keys()) {
      if (this.models.size <= this.maxModels) break;
      this.models.delete(key);
      this.built.delete(key);
    }
  }

  /**
   * Removes the least recently used model files while `dir` holds more than maxDiskBytes. One pass at a time; a
   * request during a pass (a build finished meanwhile) runs one more pass after it.
   */
  private pruneDisk(): Promise<void> {
    if (this.pruning) {
      this.pruneAgain = true;
      return this.pruning;
    }
    this.pruning = (async () => {
      do {
        this.pruneAgain = false;
        await this.prunePass();
      } while (this.pruneAgain);
    })().finally(() => {
      this.pruning = null;
    });
    return this.pruning;
  }

  private async prunePass(): Promise<void> {
    const files: { path: string; bytes: number; usedAt: number }[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.lm') && !name.endsWith('.dict')) continue;
      const path = join(this.dir, name);
      const s = await stat(path).catch(() => null);
      if (s) files.push({ path, bytes: s.size, usedAt: s.mtimeMs });
    }
    let total = files.reduce((n, f) => n + f.bytes, 0);
    // Models this process holds are its most recently used, in the map's order; the others (another process's,
    // or forgotten) go first, oldest file first.
    const recency = new Map([...this.models.keys()].map((key, i) => [key, i]));
    const rank = (path: string): number => recency.get(keyOfFile(path)) ?? -1;
    files.sort((a, b) => rank(a.path) - rank(b.path) || a.usedAt - b.usedAt);
    for (const f of files) {
      if (total <= this.maxDiskBytes) break;
      await unlink(f.path).catch(() => {});
      total -= f.bytes;
      // Its arguments name a file that is gone: the next use builds it again.
      const key = keyOfFile(f.path);
      this.models.delete(key);
      this.built.delete(key);
    }
  }
}

/** The key a model file is named after (`<key>.lm`, `<key>.dict`). */
const keyOfFile = (path: string): string => basename(path).replace(/\.(lm|dict)$/, '');

const ANSWER_KINDS: readonly ExpectedInput[] = ['name', 'yesno', 'phone', 'datetime', 'spelling'];

/** One cache per process, shared by every LocalSttProvider. */
export const sharedLanguageModels = new LanguageModelCache();
