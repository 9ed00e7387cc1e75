/**
 * The few Twilio REST calls the call loop needs: transfer a live call (new TwiML with <Dial>), hang up
 * (Status=completed) and place an outbound call. Plain fetch with Basic auth against a configurable API origin
 * (the twilio package builds its host from region/edge and cannot target a local fake without a custom
 * HTTP client); form fields as documented for the Call resource.
 */
import { backoffDelayMs, sleep } from '../../util/backoff.js';
import { ParleyError } from '../../errors.js';
import { isE164 } from '../../util/phone.js';

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /** Default https://api.twilio.com. */
  baseUrl?: string;
  timeoutMs?: number;
  /** Retries on 429 (and on 5xx for idempotent updates), with backoff. */
  maxRetries?: number;
  /** Base backoff (ms), doubled per attempt. */
  retryDelayMs?: number;
}

export interface CreateCallParams {
  to: string;
  from: string;
  /** TwiML webhook Twilio fetches when the call connects (takes precedence over `twiml`). */
  url?: string;
  twiml?: string;
  statusCallback?: string;
  statusCallbackEvent?: Array<'initiated' | 'ringing' | 'answered' | 'completed'>;
  /** Ring time in seconds. */
  timeoutSec?: number;
  timeLimitSec?: number;
  machineDetection?: 'Enable' | 'DetectMessageEnd';
  asyncAmdStatusCallback?: string;
}

export interface TwilioCall {
  sid: string;
  status: string;
}


export class TwilioRestClient {
  private readonly base: string;
  private readonly auth: string;

  constructor(private readonly options: TwilioRestOptions) {
    this.base = `${(options.baseUrl ?? 'https://api.twilio.com').replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}`;
    this.auth = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  }

  /** Replaces the live call's instructions with a <Dial> to `to`; the media stream ends as the call moves on. */
  async transferCall(callSid: string, to: string, options: { callerId?: string; timeoutSec?: number } = {}): Promise<void> {
    if (!isE164(to)) throw new ParleyError('PARLEY_ERR_VALIDATION', 'Transfer target must be an E.164 number');
    const attrs = [
      options.callerId ? ` callerId="${escapeXml(options.callerId)}"` : '',
      options.timeoutSec ? ` timeout="${Math.round(options.timeoutSec)}"` : '',
    ].join('');
    const twiml = `<?xml version="1.0" encoding="UTF-8"?><Response><Dial${attrs}><Number>${escapeXml(to)}</Number></Dial></Response>`;
    await this.post(`/Calls/${encodeURIComponent(callSid)}.json`, new URLSearchParams({ Twiml: twiml }), true);
  }

  /** The Call resource as Twilio knows it now: its status and, once it ended, its billed duration. */
  async fetchCall(callSid: string): Promise<{ status: string; durationSec: number | null }> {
    const body = await this.request('GET', `/Calls/${encodeURIComponent(callSid)}.json`, null, true);
    const duration = Number.parseInt(String(body.duration ?? ''), 10);
    return { status: String(body.status ?? ''), durationSec: Number.isFinite(duration) && duration >= 0 ? duration : null };
  }

  async hangupCall(callSid: string): Promise<void> {
    await this.post(`/Calls/${encodeURIComponent(callSid)}.json`, new URLSearchParams({ Status: 'completed' }), true);
  }

  async createCall(params: CreateCallParams): Promise<TwilioCall> {
    if (!isE164(params.to)) throw new ParleyError('PARLEY_ERR_VALIDATION', 'Call target must be an E.164 number');
    if (!params.url && !params.twiml) throw new ParleyError('PARLEY_ERR_VALIDATION', 'An outbound call needs url or twiml');
    const form = new URLSearchParams({ To: params.to, From: params.from });
    if (params.url) form.set('Url', params.url);
    else if (params.twiml) form.set('Twiml', params.twiml);
    if (params.statusCallback) {
      form.set('StatusCallback', params.statusCallback);
      form.set('StatusCallbackMethod', 'POST');
      for (const e of params.statusCallbackEvent ?? []) form.append('StatusCallbackEvent', e);
    }
    if (params.timeoutSec !== undefined) form.set('Timeout', String(params.timeoutSec));
    if (params.timeLimitSec !== undefined) form.set('TimeLimit', String(params.timeLimitSec));
    if (params.machineDetection) form.set('MachineDetection', params.machineDetection);
    if (params.asyncAmdStatusCallback) {
      form.set('AsyncAmd', 'true');
      form.set('AsyncAmdStatusCallback', params.asyncAmdStatusCallback);
      form.set('AsyncAmdStatusCallbackMethod', 'POST');
    }
    // A 5xx on create may have placed the call: never retried, only 429 is.
    const body = await this.post('/Calls.json', form, false);
    if (typeof body.sid !== 'string' || !body.sid) {
      // Twilio said yes but the SID was lost on the way: the call is placed, its SID comes with the callbacks.
      throw new ParleyError('PARLEY_ERR_UPSTREAM', 'Twilio accepted the call without a readable SID', { provider: 'twilio', retryable: false, sent: true });
    }
    return { sid: body.sid, status: String(body.status) };
  }

  private post(path: string, form: URLSearchParams, idempotent: boolean): Promise<Record<string, unknown>> {
    return this.request('POST', path, form, idempotent);
  }

  private async request(method: 'GET' | 'POST', path: string, form: URLSearchParams | null, idempotent: boolean): Promise<Record<string, unknown>> {
    const maxRetries = this.options.maxRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(this.base + path, {
          method,
          headers: { authorization: this.auth, accept: 'application/json', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
          ...(form ? { body: form.toString() } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
      } catch (err) {
        if (idempotent && attempt < maxRetries) {
          await this.backoff(attempt);
          continue;
        }
        throw new ParleyError('PARLEY_ERR_UPSTREAM', `Twilio request failed: ${(err as Error).message}`, { provider: 'twilio', retryable: true, sent: !neverSent(err) });
      }
      const text = await response.text().catch((err: unknown) => {
        // Twilio answered (and acted on the request) but its body was lost: its status says how.
        throw new ParleyError('PARLEY_ERR_UPSTREAM', `Twilio reply unreadable: ${(err as Error).message}`, { provider: 'twilio', status: response.status, retryable: true, sent: true });
      });
      const body = parseJson(text);
      if (response.ok) return body;
      const status = response.status;
      const retryable = status === 429 || (idempotent && status >= 500);
      if (retryable && attempt < maxRetries) {
        await this.backoff(attempt);
        continue;
      }
      throw toError(status, body);
    }
  }

  private backoff(attempt: number): Promise<void> {
    const base = this.options.retryDelayMs ?? 250;
    return sleep(backoffDelayMs(attempt + 1, { baseMs: base, maxMs: base * 64, jitter: 0.5 }));
  }
}

/**
 * Whether a failed create-call request certainly placed no call: Twilio refused it (a 4xx: a bad number, the
 * credentials, a 429), it never left this server (refused by our own checks, or a connection that failed before a
 * byte was sent), and nothing else. A timeout, a 5xx or a connection lost after sending may well have placed it.
 */
export function certainlyNotPlaced(err: unknown): boolean {
  if (!(err instanceof ParleyError)) return false;
  if (err.code === 'PARLEY_ERR_VALIDATION') return true;
  if (err.code !== 'PARLEY_ERR_UPSTREAM') return false;
  const status = err.details?.status;
  if (typeof status === 'number') return status >= 400 && status < 500;
  return err.details?.sent === false;
}

/** Connection failures that happen before the request is written: Twilio cannot have seen it. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** fetch's error when the connection failed before sending (its cause, or every address tried, says so). */
function neverSent(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown; errors?: unknown } } | null)?.cause;
  if (!cause) return false;
  const tried = Array.isArray(cause.errors) && cause.errors.length > 0 ? (cause.errors as { code?: unknown }[]) : [cause];
  return tried.every((e) => typeof e.code === 'string' && NOT_SENT_CODES.has(e.code));
}

function toError(status: number, body: Record<string, unknown>): ParleyError {
  const twilioCode = typeof body.code === 'number' ? body.code : undefined;
  const detail = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
  if (status === 401 || status === 403) {
    return new ParleyError('PARLEY_ERR_UPSTREAM', 'Twilio rejected the account credentials', { provider: 'twilio', status, twilioCode, retryable: false });
  }
  return new ParleyError('PARLEY_ERR_UPSTREAM', `Twilio: ${detail}`, {
    provider: 'twilio',
    status,
    twilioCode,
    retryable: status === 429 || status >= 500,
  });
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
