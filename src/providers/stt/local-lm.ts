/**
 * Per-bot language models for the local recognizer: the pocketsphinx counterpart of Deepgram's keyterms. A model
 * is built from the bot's terms (its services, aliases, staff and business name: the session's `keyterms`) mixed
 * with everyday and booking English (local-lm-corpus.ts), in a worker thread (local-lm-worker.ts), once per set
 * of terms: the files are kept under `dir` by a hash of the terms and the builder's version, so a restarted
 * server, or a second worker process, reuses them. Concurrent requests for the same terms share one build.
 *
 * `argsFor` resolves to pocketsphinx arguments (`-lm`, `-dict`); a caller that cannot wait (a call about to start)
 * races it against a deadline and falls back to the installed generic model, and the next call gets the bot's.
 */
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_DICTIONARY, tokenize, type BuildRequest, type BuiltModel } from './local-lm-build.js';
import type { LmWorkerReply } from './local-lm-worker.js';

/** Bump when the corpus or the estimator changes, so cached files from an older build are not reused. */
const BUILDER_VERSION = 4;

export interface LanguageModelCacheOptions {
  /** Where models are kept. Default: <tmpdir>/parley-lm. */
  dir?: string;
  /** The pronouncing dictionary of the installed acoustic model. */
  dictionary?: string;
  /** Test hook: builds in place of the worker thread. */
  build?: (req: BuildRequest) => Promise<BuiltModel>;
}

function buildInWorker(req: BuildRequest): Promise<BuiltModel> {
  let worker: Worker;
  if (import.meta.url.endsWith('.ts')) {
    // Source tree (tsx, vitest): the thread registers tsx's ESM hooks itself, then imports the TypeScript entry.
    const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const entry = new URL('./local-lm-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
    worker = new Worker(boot, { eval: true, workerData: req, resourceLimits: { maxOldGenerationSizeMb: 512 } });
  } else {
    worker = new Worker(new URL('./local-lm-worker.js', import.meta.url), { workerData: req, resourceLimits: { maxOldGenerationSizeMb: 512 } });
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.once('message', (reply: LmWorkerReply) => {
      settled = true;
      if (reply.ok) resolve(reply.model);
      else reject(new Error(`building the language model failed: ${reply.message}`));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the language model builder exited with code ${code}`));
      settled = true;
    });
  });
}

export class LanguageModelCache {
  private readonly dir: string;
  private readonly dictionary: string;
  private readonly build: (req: BuildRequest) => Promise<BuiltModel>;
  private readonly models = new Map<string, Promise<string[]>>();

  constructor(options: LanguageModelCacheOptions = {}) {
    this.dir = options.dir ?? join(tmpdir(), 'parley-lm');
    this.dictionary = options.dictionary ?? DEFAULT_DICTIONARY;
    this.build = options.build ?? buildInWorker;
  }

  /** The cache key of a set of terms: order, case and punctuation do not matter. */
  keyOf(terms: readonly string[]): string {
    const words = [...new Set(terms.map((t) => tokenize(t).join(' ')).filter(Boolean))].sort();
    return createHash('sha256').update(JSON.stringify([BUILDER_VERSION, this.dictionary, words])).digest('hex').slice(0, 20);
  }

  /** `-lm` and `-dict` arguments for a model of these terms; builds it (once) when it is not on disk yet. */
  argsFor(terms: readonly string[]): Promise<string[]> {
    const key = this.keyOf(terms);
    let model = this.models.get(key);
    if (!model) {
      model = this.load(key, [...terms]);
      this.models.set(key, model);
      // A failed build is not cached: the next call tries again.
      model.catch(() => this.models.delete(key));
    }
    return model;
  }

  private async load(key: string, terms: string[]): Promise<string[]> {
    const lm = join(this.dir, `${key}.lm`);
    const dict = join(this.dir, `${key}.dict`);
    try {
      await Promise.all([access(lm), access(dict)]);
      return ['-lm', lm, '-dict', dict];
    } catch {
      const built = await this.build({ terms, dictionary: this.dictionary, dir: this.dir, key });
      return ['-lm', built.lm, '-dict', built.dict];
    }
  }
}

/** One cache per process, shared by every LocalSttProvider. */
export const sharedLanguageModels = new LanguageModelCache();
