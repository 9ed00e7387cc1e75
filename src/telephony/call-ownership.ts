/**
 * Who runs each live call. Every server process registers itself as an instance and heartbeats; a call records
 * its instance when its media starts (recorder.start). A sweep, run by every instance at start and then
 * periodically, ends the live calls of instances that stopped heartbeating — status failed, reason server_lost,
 * with call.ended and the analysis job (call/lifecycle.ts) — so a crash never leaves calls in_progress forever.
 * What the call's transcript held up to the crash stays: it was written turn by turn.
 *
 * Silence is only evidence of a crash when the sweeper could reach the database all along. After a database
 * outage every instance's last heartbeat is old at once, and a sweep that ran before the others' next heartbeat
 * would end calls that are still talking; so an instance judges others only once it has itself heartbeated without
 * a gap for lostAfterMs (a restart after a crash thus ends its predecessor's calls at its first sweep after that;
 * Twilio's status callback has usually ended them before). The heartbeat re-registers an instance whose row was
 * removed (it was silent for ten times lostAfterMs), so its later calls are not taken for a lost server's.
 *
 * A Twilio call no server holds (its media stream never started: a machine given a message, a call that rang out,
 * a stream Twilio could not open) ends only by its final status callback. When that is lost, the call would stay
 * live (holding a campaign's slot, counting against the company's live calls) until the unowned sweep. So a call
 * with no owner that has heard nothing for askTelephonyAfterMs is asked of Twilio (GET Calls/{Sid}.json): one
 * that ended is ended as its callback would have ended it (Twilio's status and duration); one still going is
 * noted alive (updated_at), so it is asked again only after another silence. Inbound, outbound and campaign calls
 * alike; where Twilio cannot be asked, the unowned sweep still ends them. The asks run after the start (a slow or
 * unreachable Twilio never holds the server from listening), a round at a time and bounded in time; a call Twilio
 * could not tell about is asked again after a growing pause, so it never keeps the others from being asked.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { endCallInTx } from '../call/lifecycle.js';
import { isLiveStatus, liveStatuses } from '../db/calls.js';
import type { RootSql } from '../db/sql.js';
import type { Logger } from '../log.js';
import { END_REASON, TWILIO_CALL_STATUS } from './twilio/call-status.js';

/** Asks the telephony provider how a call stands now (TwilioRestClient.fetchCall). */
export type CallStatusSource = (callSid: string) => Promise<{ status: string; durationSec: number | null }>;

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
  /** Where a silent unowned call's state is asked (absent: nowhere, the unowned sweep ends it). */
  telephony?: CallStatusSource;
  /** A live call with no instance is asked of the telephony provider after this long unchanged; default 10 min. */
  askTelephonyAfterMs?: number;
  /** Calls asked per round. */
  askBatch?: number;
  /** A round of asks stops starting new ones after this long (default 60 s). */
  askRoundMs?: number;
}

/** How long a call Twilio could not tell about waits before it is asked again: doubling from the first silence. */
const ASK_AGAIN_MAX_MS = 6 * 3_600_000;
/** Calls whose asks failed, remembered at most (the oldest are forgotten: asked again sooner, nothing worse). */
const MAX_FAILED_ASKS = 10_000;

export class CallOwnership {
  readonly instanceId = randomUUID();
  private timers: NodeJS.Timeout[] = [];
  private readonly heartbeatMs: number;
  /** An instance silent this long is lost (its calls here; its job leases: jobs/queue.ts). */
  readonly lostAfterMs: number;
  private readonly sweepEveryMs: number;
  private readonly unownedAfterMs: number;
  private readonly askTelephonyAfterMs: number;
  /** Local clock: the last heartbeat that reached the database, and since when it has done so without a gap. */
  private lastHeartbeatAt: number | null = null;
  private reachableSince: number | null = null;
  private heartbeating = false;
  /** A sweep round (asks, then the sweep) is running: the timer's next one is skipped, not stacked. */
  private sweeping = false;
  /** Calls whose ask failed: when they may be asked again, and how many asks failed. */
  private readonly failedAsks = new Map<string, { failures: number; nextAt: number }>();

  constructor(private readonly sql: RootSql, private readonly log: Pick<Logger, 'info' | 'warn'>, private readonly options: CallOwnershipOptions = {}) {
    this.heartbeatMs = options.heartbeatMs ?? 10_000;
    this.lostAfterMs = options.lostAfterMs ?? 60_000;
    this.sweepEveryMs = options.sweepEveryMs ?? 30_000;
    this.unownedAfterMs = options.unownedAfterMs ?? 2 * 3_600_000;
    this.askTelephonyAfterMs = options.askTelephonyAfterMs ?? 10 * 60_000;
  }

  /** Registers this instance and starts heartbeating (and sweeping, when asked). */
  async start(options: { sweep: boolean }): Promise<void> {
    await this.heartbeat();
    const every = (ms: number, what: string, work: () => Promise<unknown>) => {
      const t = setInterval(() => {
        work().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, `${what} failed`));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.heartbeatMs, 'instance heartbeat', () => this.heartbeat());
    if (options.sweep) {
      await this.sweep().catch((err: unknown) => this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweeping lost calls failed'));
      if (this.sweepEveryMs > 0) every(this.sweepEveryMs, 'sweeping lost calls', () => this.sweepRound());
    }
  }

  /**
   * Registers this instance or marks it alive (an upsert: a row removed while this instance could not reach the
   * database comes back). Heartbeats do not pile up while the database hangs.
   */
  async heartbeat(): Promise<void> {
    if (this.heartbeating) return;
    this.heartbeating = true;
    try {
      await this.sql`
        insert into instances (id, hostname, pid) values (${this.instanceId}, ${hostname()}, ${process.pid})
        on conflict (id) do update set heartbeat_at = now()`;
      const now = Date.now();
      // A gap of two beats means the database was out of reach: others' silence over it proves nothing.
      if (this.lastHeartbeatAt === null || this.reachableSince === null || now - this.lastHeartbeatAt > 2 * this.heartbeatMs) {
        if (this.lastHeartbeatAt !== null && now - this.lastHeartbeatAt > this.lostAfterMs) {
          this.log.warn({ unreachableMs: now - this.lastHeartbeatAt }, 'this instance could not heartbeat for longer than lost instances are given: another instance may have ended its live calls');
        }
        this.reachableSince = now;
      }
      this.lastHeartbeatAt = now;
    } catch (err) {
      this.reachableSince = null;
      throw err;
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * Whether another instance heartbeated within the last two beats: one that can take a call's media stream when this
   * one is stopping (behind a balancer, PUBLIC_URL reaches it). Whether it is stopping too is not known here.
   */
  async anotherInstanceAlive(): Promise<boolean> {
    const [row] = await this.sql<{ alive: boolean }[]>`
      select exists (select 1 from instances
        where id <> ${this.instanceId} and heartbeat_at > now() - ${2 * this.heartbeatMs} * interval '1 millisecond') as alive`;
    return row?.alive ?? false;
  }

  /** Whether this instance has reached the database without a gap for long enough to take others' silence as lost. */
  mayJudgeSilence(): boolean {
    return this.reachableSince !== null && Date.now() - this.reachableSince >= this.lostAfterMs;
  }

  /**
   * One round of the timer: silent unowned calls asked of the telephony provider, then the sweep (asked first, so
   * an unowned call Twilio saw end gets Twilio's status, not the sweep's never_connected). Skipped while the last
   * round still runs.
   */
  async sweepRound(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      return (await this.askTelephonyAboutSilentCalls()) + (await this.sweep());
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Ends the live calls of lost instances, and unowned calls unchanged past unownedAfterMs; returns how many it
   * ended. Database work only. Safe to run on several instances at once.
   */
  async sweep(): Promise<number> {
    const judgeSilence = this.mayJudgeSilence();
    const ended = await this.sql.begin(async (tx) => {
      const lost = await tx<{ id: string; company_id: string; status: string }[]>`
        select c.id, c.company_id, c.status from calls c
        left join instances i on i.id = c.instance_id
        where c.ended_at is null and c.status = any(${liveStatuses()}) and c.company_id is not null
          and (c.instance_id is null or c.instance_id <> ${this.instanceId})
          and (
            (${judgeSilence}::boolean and c.instance_id is not null
              and (i.id is null or i.heartbeat_at < now() - ${this.lostAfterMs} * interval '1 millisecond'))
            or (c.instance_id is null and c.updated_at < now() - ${this.unownedAfterMs} * interval '1 millisecond'))
        -- Ended in the analytics buckets' key order (each end marks its call's bucket; migrations/0240): two
        -- sweeps at once then wait on each other's marks one way, never in a circle.
        order by c.company_id, c.bot_id, c.started_at, c.id
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
        where ${judgeSilence}::boolean and i.heartbeat_at < now() - ${this.lostAfterMs * 10} * interval '1 millisecond'
          and not exists (select 1 from calls c where c.instance_id = i.id and c.ended_at is null and c.status = 'in_progress')`;
      return n;
    });
    if (ended > 0) this.log.warn({ ended }, 'ended calls whose server was lost');
    return ended;
  }

  /** Silent unowned Twilio calls, asked of Twilio (see the head of this file); returns how many it ended. */
  async askTelephonyAboutSilentCalls(): Promise<number> {
    const ask = this.options.telephony;
    if (!ask) return 0;
    const batch = this.options.askBatch ?? 20;
    const startedAt = Date.now();
    // More than a round's worth: those waiting after a failed ask are passed over, not in the way of the rest.
    const candidates = await this.sql<{ id: string; company_id: string; sid: string }[]>`
      select id, company_id, twilio_call_sid as sid from calls
      where ended_at is null and status = any(${liveStatuses()}) and company_id is not null and instance_id is null
        and twilio_call_sid is not null and updated_at < now() - ${this.askTelephonyAfterMs} * interval '1 millisecond'
      order by updated_at
      limit ${batch * 5}`;
    const silent = candidates.filter((c) => (this.failedAsks.get(c.id)?.nextAt ?? 0) <= startedAt).slice(0, batch);
    let ended = 0;
    for (const call of silent) {
      if (Date.now() - startedAt > (this.options.askRoundMs ?? 60_000)) break;
      const known = await ask(call.sid).catch((err: unknown) => {
        this.log.warn({ err: err instanceof Error ? err.message : String(err), callId: call.id }, 'asking Twilio about a silent call failed');
        return null;
      });
      const status = known ? TWILIO_CALL_STATUS[known.status] : undefined;
      if (!known || !status) {
        this.askFailed(call.id);
        continue;
      }
      this.failedAsks.delete(call.id);
      if (isLiveStatus(status)) {
        await this.sql`update calls set updated_at = now() where id = ${call.id} and ended_at is null and instance_id is null`;
        continue;
      }
      const done = await this.sql.begin((tx) => endCallInTx(tx, { callId: call.id, companyId: call.company_id }, { status, reason: END_REASON[status] }, {
        by: 'telephony', durationSec: known.durationSec,
      }));
      if (done) ended++;
    }
    if (ended > 0) this.log.info({ ended }, 'ended calls whose final status callback never came (Twilio says they ended)');
    return ended;
  }

  /** A call Twilio could not tell about waits askTelephonyAfterMs, then twice that, … before it is asked again. */
  private askFailed(callId: string): void {
    const failures = (this.failedAsks.get(callId)?.failures ?? 0) + 1;
    this.failedAsks.delete(callId);
    if (this.failedAsks.size >= MAX_FAILED_ASKS) this.failedAsks.delete(this.failedAsks.keys().next().value!);
    this.failedAsks.set(callId, { failures, nextAt: Date.now() + Math.min(ASK_AGAIN_MAX_MS, this.askTelephonyAfterMs * 2 ** (failures - 1)) });
  }

  /** Stops heartbeating and removes this instance (its calls were ended by the shutdown). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.sql`delete from instances where id = ${this.instanceId}`.catch(() => {});
  }
}
