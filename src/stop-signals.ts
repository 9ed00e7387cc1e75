/**
 * SIGTERM and SIGINT for a server process and for the PROCESSES > 1 primary: the first starts the graceful stop,
 * which may take SHUTDOWN_TIMEOUT_MS; past that and a grace the process exits anyway (a step waiting on a
 * database that stopped answering would otherwise hold it for minutes, or for ever); a second signal from the
 * operator exits at once.
 */
import type { Logger } from './log.js';

/** How long past its deadline a stopping process waits before it exits anyway (the primary kills its workers at 5 s). */
export const STOP_GRACE_MS = 3_000;
/**
 * A signal this soon after the first is the same stop, not an operator's second: one Ctrl-C in a terminal reaches
 * every process of the foreground group, and the cluster's workers also get the primary's SIGTERM (src/cluster.ts).
 */
export const REPEAT_SIGNAL_MS = 1_000;

export interface StopSignalOptions {
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The graceful stop; resolves true when it was clean. */
  stop(): Promise<boolean>;
  /** How long the graceful stop may take before the process exits anyway (SHUTDOWN_TIMEOUT_MS plus a grace). */
  deadlineMs: number;
  /** What to do before exiting without waiting (the primary kills its workers). */
  abandon?(): void;
  /** Start message, e.g. 'shutting down'. */
  message: string;
  exit?(code: number): void;
}

export function handleStopSignals(o: StopSignalOptions): void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let firstAt: number | null = null;
  const giveUp = (why: string, fields: Record<string, unknown>) => {
    o.log.error(fields, why);
    o.abandon?.();
    exit(1);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt === null) {
      firstAt = Date.now();
      o.log.info({ signal }, o.message);
      // Not unref'd: it is what guarantees the exit, whatever else keeps the loop alive or stuck.
      setTimeout(() => giveUp('shutdown did not finish in time: exiting without waiting any longer', { deadlineMs: o.deadlineMs }), o.deadlineMs);
      o.stop().then(
        (clean) => exit(clean ? 0 : 1),
        (err: unknown) => giveUp('unclean shutdown', { err }),
      );
      return;
    }
    if (Date.now() - firstAt < REPEAT_SIGNAL_MS) return;
    giveUp('second signal: exiting now without waiting for calls and jobs', { signal });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
