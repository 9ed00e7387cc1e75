/**
 * A local stand-in for Twilio's REST API Call resource (2010-04-01): create and update calls with form-encoded
 * bodies and Basic auth. Records every request; can script failures and calls that no longer exist. Also the
 * Recording resource: GET …/Recordings/{Sid}.wav serves a recording's media (put in `recordings`, sent in small
 * chunks so a client must stream it), DELETE …/Recordings/{Sid}.json deletes it (204; 404 when absent).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedTwilioRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  form: URLSearchParams;
}

export class FakeTwilioRest {
  readonly requests: RecordedTwilioRequest[] = [];
  /** Statuses to answer the next requests with (e.g. [500, 429]). */
  failures: number[] = [];
  /** The next this-many requests are never answered (a Twilio that times out). */
  stalls = 0;
  /** Call SIDs that answer 404 (the call already ended). */
  readonly missingCalls = new Set<string>();
  /** What GET …/Calls/{Sid}.json answers for a call (default: in-progress, no duration). */
  readonly callStates = new Map<string, { status: string; duration?: number }>();
  /** Recording media by RecordingSid. */
  readonly recordings = new Map<string, Buffer>();
  private readonly server: Server;
  private port = 0;
  private created = 0;

  private constructor(
    readonly accountSid: string,
    readonly authToken: string,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(accountSid = 'AC00000000000000000000000000000001', authToken = 'twilio-token'): Promise<FakeTwilioRest> {
    const fake = new FakeTwilioRest(accountSid, authToken);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const path = req.url ?? '';
    this.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, form });

    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return send(res, 401, { code: 20003, message: 'Authenticate', status: 401 });
    const recording = new RegExp(`^/2010-04-01/Accounts/${this.accountSid}/Recordings/(RE[0-9a-fA-F]{32})\\.(wav|json)$`).exec(path);
    if (recording && (req.method === 'GET' || req.method === 'DELETE')) {
      const failure = this.failures.shift();
      if (failure !== undefined) return send(res, failure, { code: 20500, message: 'Scripted failure', status: failure });
      return this.recording(req.method, recording[1]!, recording[2]!, res);
    }
    const calls = `/2010-04-01/Accounts/${this.accountSid}/Calls/`;
    if (req.method === 'GET' && path.startsWith(calls) && path.endsWith('.json')) {
      const sid = path.slice(calls.length, -5);
      if (this.missingCalls.has(sid)) return send(res, 404, { code: 20404, message: `The requested resource ${path} was not found`, status: 404 });
      const known = this.callStates.get(sid) ?? { status: 'in-progress' };
      return send(res, 200, { sid, account_sid: this.accountSid, status: known.status, duration: known.duration === undefined ? null : String(known.duration) });
    }
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
      return send(res, 400, { code: 20001, message: 'Expected a form-encoded body', status: 400 });
    }
    if (this.stalls > 0) {
      this.stalls--;
      return; // left open: the client's timeout fires
    }
    const failure = this.failures.shift();
    if (failure !== undefined) return send(res, failure, { code: 20500, message: 'Scripted failure', status: failure });

    const prefix = `/2010-04-01/Accounts/${this.accountSid}/Calls`;
    if (req.method === 'POST' && path === `${prefix}.json`) {
      for (const field of ['To', 'From']) {
        if (!form.get(field)) return send(res, 400, { code: 21201, message: `No '${field}' number is specified`, status: 400 });
      }
      if (!form.get('Url') && !form.get('Twiml')) return send(res, 400, { code: 21205, message: 'Url or Twiml is required', status: 400 });
      const sid = `CA${String(++this.created).padStart(32, '0')}`;
      return send(res, 201, { sid, account_sid: this.accountSid, to: form.get('To'), from: form.get('From'), status: 'queued' });
    }
    const match = path.startsWith(`${prefix}/`) && path.endsWith('.json') ? path.slice(prefix.length + 1, -5) : null;
    if (req.method === 'POST' && match) {
      if (this.missingCalls.has(match)) {
        return send(res, 404, { code: 20404, message: `The requested resource ${path} was not found`, status: 404 });
      }
      if (!form.get('Twiml') && !form.get('Url') && !form.get('Status')) {
        return send(res, 400, { code: 20001, message: 'Nothing to update', status: 400 });
      }
      const status = form.get('Status') === 'completed' ? 'completed' : 'in-progress';
      return send(res, 200, { sid: match, account_sid: this.accountSid, status });
    }
    return send(res, 404, { code: 20404, message: 'Not found', status: 404 });
  }

  private recording(method: string, sid: string, ext: string, res: ServerResponse): void {
    const media = this.recordings.get(sid);
    if (!media) return send(res, 404, { code: 20404, message: `The requested resource ${sid} was not found`, status: 404 });
    if (method === 'DELETE') {
      if (ext !== 'json') return send(res, 405, { code: 20004, message: 'Method not allowed', status: 405 });
      this.recordings.delete(sid);
      res.writeHead(204).end();
      return;
    }
    if (ext !== 'wav') return send(res, 200, { sid, account_sid: this.accountSid, channels: 2 });
    res.writeHead(200, { 'content-type': 'audio/x-wav', 'content-length': media.byteLength });
    for (let i = 0; i < media.byteLength; i += 4096) res.write(media.subarray(i, i + 4096));
    res.end();
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
