/**
 * Persists a call as it happens: answered, each completed turn (one small append per turn, never per frame),
 * and the end (status, duration, the call.ended event and the analysis job, in one transaction).
 * A recorder never throws into the call loop: failures are logged and the call goes on.
 */
import type { RootSql } from '../db/sql.js';
import { emitEvent } from '../webhooks/emit.js';
import { endCallInTx, type CallEnd } from './lifecycle.js';
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
}

export class PgCallRecorder implements CallRecorder {
  // Writes are chained so turns land in order even though the loop does not wait for them.
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: PgCallRecorderOptions) {}

  start(): Promise<void> {
    return this.enqueue('start', async () => {
      const { sql, callId, companyId, botId } = this.o;
      await sql.begin(async (tx) => {
        const rows = await tx`
          update calls set status = 'in_progress', answered_at = coalesce(answered_at, now()),
            media_started_at = coalesce(media_started_at, now()), instance_id = ${this.o.instanceId ?? null}, updated_at = now()
          where id = ${callId} and company_id = ${companyId} and status in ('queued', 'ringing', 'in_progress')
          returning id`;
        if (rows.length > 0) {
          await emitEvent(tx, { companyId, type: 'call.started', data: { call_id: callId, bot_id: botId }, orderingKey: callId });
        }
      });
    });
  }

  appendTurn(turn: TranscriptTurn): Promise<void> {
    return this.enqueue('append turn', async () => {
      const { sql, callId, companyId } = this.o;
      await sql`
        update calls set transcript = transcript || ${sql.json([turn] as never)}, updated_at = now()
        where id = ${callId} and company_id = ${companyId}`;
    });
  }

  end(result: CallEnd): Promise<void> {
    return this.enqueue('end', async () => {
      const { sql, callId, companyId } = this.o;
      // Already ended (by a status callback that came first): the event and the job were produced then.
      await sql.begin((tx) => endCallInTx(tx, { callId, companyId }, result));
    });
  }

  private enqueue(what: string, work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work).catch((err: unknown) => {
      this.o.log.error({ err: err instanceof Error ? err.message : String(err), callId: this.o.callId }, `call recorder: ${what} failed`);
    });
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
