/**
 * Start-up of the server's dependencies. A step the server cannot run without (the database) fails the start
 * with a message naming the dependency and the setting that points at it — "fetch failed" alone sends an
 * operator nowhere. A dependency calls can do without (the vector store: retrieval is bounded and optional
 * during a call) is set up in the background, retried with backoff, while the server starts and serves calls.
 */
import type { Logger } from './log.js';
import { backoffDelayMs, type BackoffOptions } from './util/backoff.js';

/** An error's message with its cause's code or message (undici's "fetch failed" hides ECONNREFUSED in its cause). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause ? (typeof cause.code === 'string' ? cause.code : typeof cause.message === 'string' ? cause.message : '') : '';
  return detail && !err.message.includes(detail) ? `${err.message} (${detail})` : err.message;
}

/** A start step that failed: what it needed and the setting that points there. */
export class StartStepError extends Error {
  constructor(readonly dependency: string, readonly setting: string, cause: unknown) {
    super(`${dependency} (${setting}): ${describeError(cause)}`, { cause });
    this.name = 'StartStepError';
  }
}

/** Runs one start step; a failure becomes a StartStepError naming `dependency` and `setting`. */
export async function startStep<T>(dependency: string, setting: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw new StartStepError(dependency, setting, err);
  }
}

/** The part of a URL that may be logged: its origin (no credentials, path or query). */
export function loggableOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '[unparsable URL]';
  }
}

export interface BackgroundStart {
  /** True once the work has succeeded. */
  readonly ready: boolean;
  /** Resolves when the work has succeeded (never rejects; stays pending after stop()). */
  readonly whenReady: Promise<void>;
  /** No further attempts (server shutdown). */
  stop(): void;
}

export interface BackgroundStartOptions {
  /** What the log calls the dependency, e.g. "vector store". */
  dependency: string;
  /** Fields every log line carries: the setting and the loggable target (never a key). */
  fields: Record<string, string>;
  /** What the server does meanwhile, said once in the first warning. */
  meanwhile: string;
  backoff?: BackoffOptions;
  onReady?: () => void;
}

/**
 * Runs `work` until it succeeds, waiting with exponential backoff (1 s doubling to 30 s by default) between
 * failures; each failure is a warning with the attempt number and the next wait, success an info line.
 */
export function startInBackground(work: () => Promise<void>, log: Logger, o: BackgroundStartOptions): BackgroundStart {
  const backoff = o.backoff ?? { baseMs: 1_000, maxMs: 30_000, jitter: 0.2 };
  let ready = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  const whenReady = new Promise<void>((resolve) => (resolveReady = resolve));
  const attempt = (n: number): void => {
    work().then(() => {
      ready = true;
      log.info({ ...o.fields, attempts: n }, `${o.dependency} ready`);
      o.onReady?.();
      resolveReady();
    }, (err: unknown) => {
      if (stopped) return;
      const retryInMs = backoffDelayMs(n, backoff);
      const message = n === 1 ? `${o.dependency} unreachable at start; ${o.meanwhile}; retrying` : `${o.dependency} still unreachable; retrying`;
      log.warn({ ...o.fields, attempt: n, retryInMs, err: describeError(err) }, message);
      timer = setTimeout(() => attempt(n + 1), retryInMs);
      timer.unref();
    });
  };
  attempt(1);
  return {
    get ready() {
      return ready;
    },
    whenReady,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
