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
 */
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startModuleWorker } from '../../util/module-worker.js';
import { DEFAULT_DICTIONARY, tokenize, type BuildRequest, type BuiltModel } from './local-lm-build.js';
import type { LmWorkerReply } from './local-lm-worker.js';
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
}

function buildInWorker(req: BuildRequest): Promise<BuiltModel> {
  const worker = startModuleWorker(import.meta.url, 'local-lm-worker', { workerData: req, resourceLimits: { maxOldGenerationSizeMb: 512 } });
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
  /** Models already built, for a caller that cannot wait at all (the start of an utterance). */
  private readonly built = new Map<string, string[]>();
  /** Answer models are built one after another, behind the bots' own: they are a refinement, never urgent. */
  private answerQueue: Promise<unknown> = Promise.resolve();
  private readonly queued = new Set<string>();

  constructor(options: LanguageModelCacheOptions = {}) {
    this.dir = options.dir ?? join(tmpdir(), 'parley-lm');
    this.dictionary = options.dictionary ?? DEFAULT_DICTIONARY;
    this.build = options.build ?? buildInWorker;
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
    if (!model) {
      model = this.load(key, [...terms], expected);
      this.models.set(key, model);
      void model.then(
        (args) => this.built.set(key, args),
        // A failed build is not cached: the next call tries again.
        () => this.models.delete(key),
      );
    }
    return model;
  }

  /** The answer model's arguments if it is built; otherwise null, and it is queued to be built. Never waits. */
  answerArgs(terms: readonly string[], expected: ExpectedInput): string[] | null {
    const key = this.keyOf(terms, expected);
    const ready = this.built.get(key);
    if (ready) return ready;
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
      return ['-lm', lm, '-dict', dict];
    } catch {
      const built = await this.build({ terms, dictionary: this.dictionary, dir: this.dir, key, ...(expected ? { expected } : {}) });
      return ['-lm', built.lm, '-dict', built.dict];
    }
  }
}

const ANSWER_KINDS: readonly ExpectedInput[] = ['name', 'yesno', 'phone', 'datetime', 'spelling'];

/** One cache per process, shared by every LocalSttProvider. */
export const sharedLanguageModels = new LanguageModelCache();
