/**
 * Places a bot's outbound call: the call row first (so the call exists whatever Twilio answers), then Twilio's
 * Call resource with a per-call answer URL (/twilio/outbound/:callId, signed by Twilio like every webhook) and
 * the usual status callback. When the callee picks up, Twilio fetches that URL and the call joins the same media
 * loop as an inbound one.
 */
import { limitsOf } from '../../bots/config-schema.js';
import type { BotRow } from '../../db/bots.js';
import { createCall, endCallInTx } from '../../call/lifecycle.js';
import { countLiveCalls, type CallRow } from '../../db/calls.js';
import type { Db, RootSql } from '../../db/sql.js';
import { ParleyError } from '../../errors.js';
import type { TwilioRestClient } from './rest.js';
import { publicUrl } from './signature.js';
import { dialRefusal } from '../dial-policy.js';

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
}

export interface PlaceOptions {
  hangUpOnMachine?: boolean;
  machineDetection?: 'Enable' | 'DetectMessageEnd';
  inTransaction?: (tx: Db, call: CallRow) => Promise<void>;
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
   * `inTransaction`: runs in the transaction that creates the call row, under the company's outbound lock, before
   * Twilio is asked; if it throws, no call row exists, nothing is dialled, and the error goes up as it is.
   */
  async place(bot: BotRow, to: string, options: PlaceOptions = {}): Promise<CallRow> {
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
      const created = await createCall(tx, { companyId: bot.company_id, botId: bot.id, direction: 'outbound', from: bot.phone_number!, to, status: 'queued' });
      await options.inTransaction?.(tx, created);
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
      return row ?? call;
    } catch {
      return { ...call, twilio_call_sid: sid };
    }
  }
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
