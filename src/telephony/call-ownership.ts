/**
 * Who runs each live call. Every server process registers itself as an instance and heartbeats; a call records
 * its instance when its media starts (recorder.start). A sweep, run by every instance at start and then
 * periodically, ends the live calls of instances that stopped heartbeating — status failed, reason server_lost,
 * with call.ended and the analysis job (call/lifecycle.ts) — so a crash never leaves calls in_progress forever.
 * What the call's transcript held up to the crash stays: it was written turn by turn.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { endCallInTx } from '../call/lifecycle.js';
import { liveStatuses } from '../db/calls.js';
import type { RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';

export interface CallOwnershipOptions {
  heartbeatMs?: number;
  /** An instance silent this long is lost; its calls are ended. */
  lostAfterMs?: number;
  /** How often this instance looks for lost calls (0 = only when sweep() is called). */
  sweepEveryMs?: number;
  /**
   * A live call with no instance — its media never started on any instance (queued or ringing: the socket closed
   * before its start was taken, the status callback was lost), or it predates ownership — is ended once its row has
   * not changed for this long.
   */
  unownedAfterMs?: number;
}

export class CallOwnership {
  readonly instanceId = randomUUID();
  private timers: NodeJS.Timeout[] = [];
  private readonly heartbeatMs: number;
  private readonly lostAfterMs: number;
  private readonly sweepEveryMs: number;
  private readonly unownedAfterMs: number;

  constructor(private readonly sql: RootSql, private readonly log: Pick<Logger, 'info' | 'warn'>, options: CallOwnershipOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.lostAfterMs = options.lostAfterMs ?? 60_000;
    this.sweepEveryMs = options.sweepEveryMs ?? 30_000;
    this.unownedAfterMs = options.unownedAfterMs ?? 2 * 3_600_000;
  }

  /** Registers this instance and starts heartbeating (and sweeping, when asked). */
  async start(options: { sweep: boolean }): Promise<void> {
    await this.sql`insert into instances (id, hostname, pid) values (${this.instanceId}, ${hostname()}, ${process.pid})`;
    const every = (ms: number, what: string, work: () => Promise<unknown>) => {
      const t = setInterval(() => {
        work().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `${what} failed`));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.heartbeatMs, 'instance heartbeat', () => this.sql`update instances set heartbeat_at = now() where id = ${this.instanceId}`);
    if (options.sweep) {
      await this.sweep().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweeping lost calls failed'));
      if (this.sweepEveryMs > 0) every(this.sweepEveryMs, 'sweeping lost calls', () => this.sweep());
    }
  }

  /** Ends the live calls of lost instances; returns how many it ended. Safe to run on several instances at once. */
  async sweep(): Promise<number> {
    const ended = await this.sql.begin(async (tx) => {
      const lost = await tx<{ id: string; company_id: string; status: string }[]>`
        select c.id, c.company_id, c.status from calls c
        left join instances i on i.id = c.instance_id
        where c.ended_at is null and c.status = any(${liveStatuses()}) and c.company_id is not null
          and (c.instance_id is null or c.instance_id <> ${this.instanceId})
          and (
            (c.instance_id is not null and (i.id is null or i.heartbeat_at < now() - ${this.lostAfterMs} * interval '1 millisecond'))
            or (c.instance_id is null and c.updated_at < now() - ${this.unownedAfterMs} * interval '1 millisecond'))
        order by c.id
        limit 500
        for update of c skip locked`;
      let n = 0;
      for (const call of lost) {
        // A call that never connected was nobody's conversation: failed, and why.
        const reason = call.status === 'in_progress' ? 'server_lost' : 'never_connected';
        if (await endCallInTx(tx, { callId: call.id, companyId: call.company_id }, { status: 'failed', reason }, { by: 'sweep' })) n++;
      }
      // Instances silent far longer than the lost threshold and owning no live call are forgotten.
      await tx`
        delete from instances i
        where i.heartbeat_at < now() - ${this.lostAfterMs * 10} * interval '1 millisecond'
          and not exists (select 1 from calls c where c.instance_id = i.id and c.ended_at is null and c.status = 'in_progress')`;
      return n;
    });
    if (ended > 0) this.log.warn({ ended }, 'ended calls whose server was lost');
    return ended;
  }

  /** Stops heartbeating and removes this instance (its calls were ended by the shutdown). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.sql`delete from instances where id = ${this.instanceId}`.catch(() => {});
  }
}
