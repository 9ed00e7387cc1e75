/**
 * Places a bot's outbound call: the call row first (so the call exists whatever Twilio answers), then Twilio's
 * Call resource with a per-call answer URL (/twilio/outbound/:callId, signed by Twilio like every webhook) and
 * the usual status callback. When the callee picks up, Twilio fetches that URL and the call joins the same media
 * loop as an inbound one.
 */
import { limitsOf } from '../../bots/config-schema.js';
import type { BotRow } from '../../db/bots.js';
import { insertCall, type CallRow } from '../../db/calls.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError } from '../../errors.js';
import type { TwilioRestClient } from './rest.js';
import { publicUrl } from './signature.js';

export const OUTBOUND_PATH = '/twilio/outbound';

export interface OutboundDialerDeps {
  sql: RootSql;
  rest: Pick<TwilioRestClient, 'createCall'>;
  publicOrigin: string;
  /** Seconds Twilio lets the callee's phone ring. */
  ringTimeoutSec?: number;
}

export class OutboundDialer {
  constructor(private readonly deps: OutboundDialerDeps) {}

  async place(bot: BotRow, to: string): Promise<CallRow> {
    if (!bot.phone_number) throw new ParleyError('PARLEY_ERR_CONFLICT', 'This bot has no phone number to call from');
    if (to === bot.phone_number) throw new ParleyError('PARLEY_ERR_VALIDATION', 'A bot cannot call its own number');
    const call = await insertCall(this.deps.sql, { companyId: bot.company_id, botId: bot.id, direction: 'outbound', from: bot.phone_number, to, status: 'queued' });
    try {
      const placed = await this.deps.rest.createCall({
        to,
        from: bot.phone_number,
        url: publicUrl(this.deps.publicOrigin, `${OUTBOUND_PATH}/${call.id}`),
        statusCallback: publicUrl(this.deps.publicOrigin, '/twilio/status'),
        statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
        timeoutSec: this.deps.ringTimeoutSec ?? 30,
        // The session says goodbye at maxCallSec; Twilio's hard stop comes a minute later, never mid-goodbye.
        timeLimitSec: limitsOf(bot.config).maxCallSec + 60,
      });
      // The answer webhook may already have recorded the SID (a callee can pick up before Twilio's reply lands).
      const [row] = await this.deps.sql<CallRow[]>`
        update calls set twilio_call_sid = coalesce(twilio_call_sid, ${placed.sid}), updated_at = now()
        where id = ${call.id} returning *`;
      return row!;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.deps.sql`
        update calls set status = 'failed', failure_reason = ${reason.slice(0, 500)}, ended_at = now(), duration_sec = 0, updated_at = now()
        where id = ${call.id}`;
      throw refusal(err);
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
