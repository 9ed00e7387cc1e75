/**
 * Twilio's copies of the recordings it made: fetched as WAV (streamed through, never buffered whole) and deleted,
 * with the account's HTTP basic auth. The URL is built from the configured API base and the recording's SID —
 * the same resource as the callback's RecordingUrl + ".wav", but never a URL a request handed us, so the
 * account's credentials only ever go to TWILIO_API_URL.
 */
import { Readable } from 'node:stream';
import { ParleyError } from '../errors.js';
import { RECORDING_SID } from './repo.js';
import type { StoredObject } from './store.js';

export interface TwilioRecordingsOptions {
  accountSid: string;
  authToken: string;
  /** TWILIO_API_URL (https://api.twilio.com; tests: a fake). */
  baseUrl: string;
  timeoutMs?: number;
}

export class TwilioRecordings {
  constructor(private readonly o: TwilioRecordingsOptions) {}

  private url(sid: string, ext: '.wav' | '.json'): string {
    if (!RECORDING_SID.test(sid)) throw new Error('not a recording SID');
    return `${this.o.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(this.o.accountSid)}/Recordings/${sid}${ext}`;
  }

  private get auth(): string {
    return `Basic ${Buffer.from(`${this.o.accountSid}:${this.o.authToken}`).toString('base64')}`;
  }

  /** The recording's WAV as a stream; null when Twilio has no such recording (deleted, or never made). */
  async open(sid: string, signal?: AbortSignal): Promise<StoredObject | null> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 15_000);
    let res: Response;
    try {
      res = await fetch(this.url(sid, '.wav'), {
        headers: { authorization: this.auth },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new ParleyError('PARLEY_ERR_UPSTREAM', `Twilio recording fetch failed: ${err instanceof Error ? err.message : String(err)}`, { provider: 'twilio' });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new ParleyError('PARLEY_ERR_UPSTREAM', `Twilio answered HTTP ${res.status} for a recording`, { provider: 'twilio', status: res.status });
    }
    const length = Number(res.headers.get('content-length'));
    return { body: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), size: Number.isFinite(length) && length > 0 ? length : null };
  }

  /** Deletes the recording at Twilio; one already gone counts as deleted. */
  async delete(sid: string): Promise<void> {
    const res = await fetch(this.url(sid, '.json'), {
      method: 'DELETE',
      headers: { authorization: this.auth },
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
    });
    await res.body?.cancel();
    if (res.status === 204 || res.status === 200 || res.status === 404) return;
    throw new Error(`Twilio answered HTTP ${res.status} deleting a recording`);
  }
}
