/**
 * Places a bot's outbound call: the call row first (so the call exists whatever Twilio answers), then Twilio's
 * Call resource with a per-call answer URL (/twilio/outbound/:callId, signed by Twilio like every webhook) and
 * the usual status callback. When the callee picks up, Twilio fetches that URL and the call joins the same media
 * loop as an inbound one.
 *
 * Every outbound dial — the API's and every campaign's — comes through place(), so the checks that hold for any
 * call run here (assertDialable: premium rate, do-not-call, blocked prefixes, denied consent; assertNumberFree: one
 * call per number).
 *
 * Twilio's answer to the create request decides what the row becomes. A refusal (a 4xx, or a request that never
 * left) placed nothing: the row ends `failed` (`dial_refused: …`). A lost answer (a timeout, a 5xx, a connection
 * dropped after sending) may have placed the call: the row stays live without a SID — its answer URL and status
 * callbacks carry its id, so a late one binds the SID and the call runs as any other — and a row Twilio never
 * reports on is ended `failed` (`dial_lost`) by endLostDials after a few minutes.
 */
import { limitsOf } from '../../bots/config-schema.js';
import type { BotRow } from '../../db/bots.js';
import { createCall, endCallInTx } from '../../call/lifecycle.js';
import { countLiveCalls, liveStatuses, type CallRow } from '../../db/calls.js';
import type { Db, RootSql } from '../../db/sql.js';
import { ParleyError } from '../../errors.js';
import { assertDialable, assertNumberFree } from '../../campaigns/suppression.js';
import { certainlyNotPlaced, type TwilioRestClient } from './rest.js';
import { publicUrl } from './signature.js';
import { dialRefusal } from '../dial-policy.js';
import { canonicalPhone } from '../../util/phone.js';

export const OUTBOUND_PATH = '/twilio/outbound';

export interface OutboundDialerDeps {
  sql: RootSql;
  rest: Pick<TwilioRestClient, 'createCall'>;
  publicOrigin: string;
  /** Seconds Twilio lets the callee's phone ring. */
  ringTimeoutSec?: number;
  /** Outbound calls a company may have queued, ringing or live at once (toll-fraud and mistake brake). */
  maxActivePerCompany?: number;
  /** E.164 prefixes calls may go to; empty or unset = any. */
  allowedPrefixes?: string[];
  /** OUTBOUND_ALLOW_PREMIUM_RATE: premium-rate, shared-cost and UAN numbers may be dialled. */
  allowPremiumRate?: boolean;
}

export interface PlaceOptions {
  hangUpOnMachine?: boolean;
  machineDetection?: 'Enable' | 'DetectMessageEnd';
  inTransaction?: (tx: Db, call: CallRow) => Promise<void>;
}

export interface DialResult {
  /** The call row: with Twilio's SID when Twilio took the call; without one while its answer is unknown. */
  call: CallRow;
  /**
   * Why Twilio's answer to the create request is unknown (a timeout, a 5xx): the call may be ringing, so it is
   * neither reported failed nor dialled again; callbacks or endLostDials settle it. Null when Twilio took the call.
   */
  unconfirmed: string | null;
}

export class OutboundDialer {
  constructor(private readonly deps: OutboundDialerDeps) {}

  /** OUTBOUND_MAX_ACTIVE_PER_COMPANY: what place() holds a company to (the campaign claim plans by it too). */
  get maxActivePerCompany(): number {
    return this.deps.maxActivePerCompany ?? 10;
  }

  /**
   * `hangUpOnMachine`: Twilio's answering-machine detection runs, and a machine or fax gets no conversation.
   * `machineDetection`: the detection mode itself (campaigns: DetectMessageEnd waits for the greeting's beep).
   * `inTransaction`: runs in the transaction that creates the call row, under the company's outbound lock and the
   * number's lock (after assertDialable, before assertNumberFree), before Twilio is asked; if it throws, no call row
   * exists, nothing is dialled, and the error goes up as it is. A number that may not be called now throws
   * NotDialable (a 409).
   */
  async place(bot: BotRow, given: string, options: PlaceOptions = {}): Promise<DialResult> {
    // The one form numbers are stored and looked up in (+4402079460000 is +442079460000): the call's to_number is
    // what an erasure of the number, the one-call-per-number check and the bot's own number compare against.
    const to = canonicalPhone(given);
    if (!bot.phone_number) throw new ParleyError('PARLEY_ERR_CONFLICT', 'This bot has no phone number to call from');
    if (to === bot.phone_number) throw new ParleyError('PARLEY_ERR_VALIDATION', 'A bot cannot call its own number');
    const refused = dialRefusal(to, this.deps.allowedPrefixes ?? []);
    if (refused) throw new ParleyError('PARLEY_ERR_VALIDATION', refused);
    const max = this.maxActivePerCompany;
    const call = await this.deps.sql.begin(async (tx) => {
      const n = await countLiveCalls(tx, bot.company_id, 'outbound');
      if (n >= max) {
        throw new ParleyError('PARLEY_ERR_RATE_LIMITED', max === 0 ? 'Outbound calls are turned off on this server' : `${n} outbound calls are already in progress (the limit is ${max})`);
      }
      await assertDialable(tx, bot.company_id, to, { allowPremiumRate: this.deps.allowPremiumRate ?? false });
      const created = await createCall(tx, { companyId: bot.company_id, botId: bot.id, direction: 'outbound', from: bot.phone_number!, to, status: 'queued' });
      await options.inTransaction?.(tx, created);
      await assertNumberFree(tx, bot.company_id, to, created.id);
      return created;
    });
    const machineDetection = options.machineDetection ?? (options.hangUpOnMachine ? 'Enable' : undefined);
    let sid: string;
    try {
      const placed = await this.deps.rest.createCall({
        to,
        from: bot.phone_number,
        url: publicUrl(this.deps.publicOrigin, `${OUTBOUND_PATH}/${call.id}`),
        statusCallback: publicUrl(this.deps.publicOrigin, `/twilio/status/${call.id}`),
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        timeoutSec: this.deps.ringTimeoutSec ?? 30,
        // The session says goodbye at maxCallSec; Twilio's hard stop comes a minute later, never mid-goodbye.
        timeLimitSec: limitsOf(bot.config).maxCallSec + 60,
        ...(machineDetection ? { machineDetection } : {}),
      });
      sid = placed.sid;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (!certainlyNotPlaced(err)) return { call, unconfirmed: reason.slice(0, 480) };
      await this.deps.sql.begin((tx) =>
        endCallInTx(tx, { callId: call.id, companyId: bot.company_id }, { status: 'failed', reason: `dial_refused: ${reason.slice(0, 480)}` }, { by: 'dialer', durationSec: 0 }));
      throw refusal(err);
    }
    // Twilio is dialling now: nothing below may report the call as failed (a retry would ring the callee twice).
    // The answer webhook and the status callbacks record the SID too, so losing this write loses nothing.
    try {
      const [row] = await this.deps.sql<CallRow[]>`
        update calls set twilio_call_sid = coalesce(twilio_call_sid, ${sid}), updated_at = now()
        where id = ${call.id} returning *`;
      return { call: row ?? call, unconfirmed: null };
    } catch {
      return { call: { ...call, twilio_call_sid: sid }, unconfirmed: null };
    }
  }
}

/**
 * Ends outbound calls whose create request's answer was lost (or never came: the process died mid-dial) and that
 * Twilio has not reported on for `afterMs` — no SID from a reply, an answer or a status callback — as `failed`
 * (`dial_lost`): Twilio sends its first callback within seconds of placing a call, so such a call was not placed
 * or cannot be followed. Database time, like the calls' own timestamps. Returns how many it ended.
 */
export async function endLostDials(sql: RootSql, afterMs: number): Promise<number> {
  return sql.begin(async (tx) => {
    const lost = await tx<{ id: string; company_id: string }[]>`
      select id, company_id from calls
      where direction = 'outbound' and twilio_call_sid is null and ended_at is null and status = any(${liveStatuses()})
        and company_id is not null and started_at < now() - ${afterMs} * interval '1 millisecond'
      -- The analytics buckets' key order, as every batch of ends (call-ownership.ts).
      order by company_id, bot_id, started_at, id
      limit 100
      for update skip locked`;
    let n = 0;
    for (const c of lost) {
      if (await endCallInTx(tx, { callId: c.id, companyId: c.company_id }, { status: 'failed', reason: 'dial_lost' }, { by: 'dialer', durationSec: 0 })) n++;
    }
    return n;
  });
}

/** Twilio refusing the request itself (a bad or unverified number) is the caller's input, not an outage. */
function refusal(err: unknown): unknown {
  if (!(err instanceof ParleyError) || err.code !== 'PARLEY_ERR_UPSTREAM') return err;
  const status = typeof err.details?.status === 'number' ? err.details.status : 0;
  if (status >= 400 && status < 500 && ![401, 403, 429].includes(status)) {
    return new ParleyError('PARLEY_ERR_VALIDATION', `Twilio refused the call: ${err.message.replace(/^Twilio: /, '')}`, err.details);
  }
  return err;
}
