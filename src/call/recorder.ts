/**
 * Persists a live call as it happens through the call lifecycle (lifecycle.ts): answered, each completed turn
 * (one small append per turn, never per frame), and the end. A recorder never throws into the call loop:
 * failures are logged and the call goes on. While the database cannot be reached (an outage, a failover) writes
 * wait their turn and are tried again, in order, for up to RETRY_UNREACHABLE_MS (db/retry.ts): what was said
 * during a database blip is stored once it is back, and the call's end with it (before, each was tried once and
 * dropped: turns lost, the call left in_progress for good).
 */
import { backgroundHandle } from '../db/param-guard.js';
import { retryWhileUnreachable } from '../db/retry.js';
import type { RootSql } from '../db/sql.js';
import { answerCall, appendTurn, endCallInTx, type CallEnd } from './lifecycle.js';
import type { CallLogger, TranscriptTurn } from './types.js';

export type { CallEnd } from './lifecycle.js';

export interface CallRecorder {
  start(): Promise<void>;
  appendTurn(turn: TranscriptTurn): Promise<void>;
  end(result: CallEnd): Promise<void>;
}

export interface PgCallRecorderOptions {
  sql: RootSql;
  callId: string;
  companyId: string;
  botId: string;
  log: CallLogger;
  /** The server instance running the call (ownership, see telephony/call-ownership.ts); null = unowned. */
  instanceId?: string | null;
  /** How long a write waits for an unreachable database; default RETRY_UNREACHABLE_MS (db/retry.ts). */
  retryUnreachableMs?: number;
}

export class PgCallRecorder implements CallRecorder {
  // Writes are chained so turns land in order even though the loop does not wait for them.
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: PgCallRecorderOptions) {
    // Nobody waits on these writes (the loop goes on), and one given up at a short deadline may still land before
    // its retry: a turn stored twice. So the background deadline, not the API's.
    this.o = { ...o, sql: backgroundHandle(o.sql) };
  }

  start(): Promise<void> {
    const { sql, callId, companyId, botId } = this.o;
    return this.enqueue('start', () => sql.begin((tx) => answerCall(tx, { callId, companyId, botId, instanceId: this.o.instanceId ?? null })));
  }

  appendTurn(turn: TranscriptTurn): Promise<void> {
    const { sql, callId, companyId } = this.o;
    return this.enqueue('append turn', () => appendTurn(sql, { callId, companyId }, turn));
  }

  end(result: CallEnd): Promise<void> {
    const { sql, callId, companyId } = this.o;
    // Already ended (by a status callback that came first): the event and the job were produced then.
    return this.enqueue('end', () => sql.begin((tx) => endCallInTx(tx, { callId, companyId }, result, { by: 'session' })));
  }

  private enqueue(what: string, work: () => Promise<unknown>): Promise<void> {
    const next = this.chain.then(() => retryWhileUnreachable(work, this.o.retryUnreachableMs)).then(
      () => undefined,
      (err: unknown) => {
        this.o.log.error({ err: err instanceof Error ? err.message : String(err), callId: this.o.callId }, `call recorder: ${what} failed`);
      },
    );
    this.chain = next;
    return next;
  }
}

/** Keeps everything in memory: tests, the offline simulator, and calls that must not touch the database. */
export class MemoryCallRecorder implements CallRecorder {
  started = false;
  readonly turns: TranscriptTurn[] = [];
  ended: CallEnd | null = null;

  async start(): Promise<void> {
    this.started = true;
  }
  async appendTurn(turn: TranscriptTurn): Promise<void> {
    this.turns.push(turn);
  }
  async end(result: CallEnd): Promise<void> {
    this.ended ??= result;
  }
}
