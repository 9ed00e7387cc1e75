/**
 * A company's webhook endpoint: records every request and answers as scripted — a status, a delay, a
 * connection that hangs or is destroyed, an answer whose body never ends — and can go down (connection refused) and come back on the same port.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body (null if not JSON). */
  json: { id?: string; type?: string; company_id?: string; data?: Record<string, unknown> } | null;
  /** What this request was answered with. */
  answeredWith: number | 'hang' | 'destroy';
}

export type ReceiverAction =
  /** bodyNeverEnds: the status, headers and `body` are sent, then the body is held open (until down()). */
  | { status: number; delayMs?: number; headers?: Record<string, string>; body?: string; bodyNeverEnds?: boolean }
  | { hang: true }
  | { destroy: true };

export class FakeReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Decides each answer; default 200. */
  behaviour: (req: ReceivedRequest, index: number) => ReceiverAction = () => ({ status: 200 });
  private server: Server;
  private port = 0;
  private readonly hanging = new Set<ServerResponse>();
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<FakeReceiver> {
    const r = new FakeReceiver();
    await r.listen(0);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Successful (2xx) requests by event id, in arrival order. */
  delivered(): ReceivedRequest[] {
    return this.requests.filter((r) => typeof r.answeredWith === 'number' && r.answeredWith >= 200 && r.answeredWith < 300);
  }

  /** Resolves once at least `count` requests have arrived. */
  waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Refuse connections (the port stays reserved for up()). */
  async down(): Promise<void> {
    for (const res of this.hanging) res.socket?.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async up(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.down();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: ReceivedRequest['json'];
    try {
      json = JSON.parse(body) as ReceivedRequest['json'];
    } catch {
      json = null;
    }
    const record: ReceivedRequest = { headers: req.headers, body, json, answeredWith: 200 };
    const action = this.behaviour(record, this.requests.length);
    record.answeredWith = 'hang' in action ? 'hang' : 'destroy' in action ? 'destroy' : action.status;
    this.requests.push(record);
    this.waiters = this.waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
    if ('hang' in action) {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if ('destroy' in action) {
      res.socket?.destroy();
      return;
    }
    if (action.delayMs) await new Promise((r) => setTimeout(r, action.delayMs));
    if (res.destroyed) return;
    res.writeHead(action.status, { 'content-type': 'text/plain', ...(action.headers ?? {}) });
    if (action.bodyNeverEnds) {
      res.write(action.body ?? 'ok');
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    res.end(action.body ?? 'ok');
  }
}
