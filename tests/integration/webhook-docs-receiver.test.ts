/**
 * A receiver written exactly as docs/webhooks.md tells a developer to write one: the secret read from
 * GET /v1/company/webhook/secret, the raw body bytes (express.raw: a Buffer) verified with the standardwebhooks
 * package (its 5-minute timestamp tolerance), 401 on a bad signature, deduplication on the event id, 204.
 * It must accept every real delivery — every event type, a test event, non-ASCII text, the secrets of a rotation —
 * and refuse a tampered body and a request captured and sent again after the tolerance.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { recordEvent, WEBHOOK_EVENT_TYPES } from '../../src/webhooks/emit.js';
import { WebhookWorker } from '../../src/webhooks/worker.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

/** What the docs' receiver saw: each request's headers, raw body and its answer. */
interface Seen { headers: IncomingHttpHeaders; raw: Buffer; answer: number; event: { id: string; type: string; data: Record<string, unknown> } | null }

/** The docs' example receiver (express.raw + standardwebhooks), on node:http: the same bytes, headers and answers. */
class DocsReceiver {
  readonly seen: Seen[] = [];
  readonly handled = new Set<string>();
  private readonly server: Server;
  constructor(public secret: string) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        let event: Seen['event'];
        try {
          event = new Webhook(this.secret).verify(raw, {
            'webhook-id': String(req.headers['webhook-id']),
            'webhook-timestamp': String(req.headers['webhook-timestamp']),
            'webhook-signature': String(req.headers['webhook-signature']),
          }) as Seen['event'];
        } catch {
          this.seen.push({ headers: req.headers, raw, answer: 401, event: null });
          res.writeHead(401).end();
          return;
        }
        if (!this.handled.has(event!.id)) this.handled.add(event!.id);
        this.seen.push({ headers: req.headers, raw, answer: 204, event });
        res.writeHead(204).end();
      });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/parley`;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
  /** Sends a captured request again (an attacker replaying it, or tampering with it); returns the answer. */
  resend(s: Seen, raw: Buffer = s.raw): Promise<number> {
    return new Promise((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'webhook-id': String(s.headers['webhook-id']), 'webhook-timestamp': String(s.headers['webhook-timestamp']), 'webhook-signature': String(s.headers['webhook-signature']) };
      const req = request(this.url, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(raw);
    });
  }
}

let t: TestApp;
const delivery = { timeoutMs: 2_000, allowHttp: true, allowPrivate: true };

beforeAll(async () => {
  t = await createTestApp({ tenantRoutes: (db) => [webhookRoutes({ sql: db.sql, delivery })] });
});
afterAll(async () => {
  await t.close();
});

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('a receiver written as docs/webhooks.md says', () => {
  it('accepts every real delivery, refuses a tampered or stale one, and keeps verifying through a secret rotation', async () => {
    const c = await t.createCompany();
    const secretRes = await t.app.inject({ url: '/v1/company/webhook/secret', headers: t.as(c.apiKey) });
    expect(secretRes.statusCode).toBe(200);
    const receiver = new DocsReceiver(secretRes.json().secret as string);
    await receiver.listen();
    const worker = new WebhookWorker(t.db.sql, { ...delivery, maxAgeMs: 3_600_000, pollMs: 20, backoff: { baseMs: 10, maxMs: 40 } });
    try {
      const put = await t.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: t.as(c.apiKey), payload: { url: receiver.url } });
      expect(put.statusCode).toBe(200);

      // Every subscribable type, with text a receiver's bytes-to-string must not mangle (Cyrillic, an emoji, U+2028).
      const ids: string[] = [];
      for (const type of WEBHOOK_EVENT_TYPES) {
        ids.push((await recordEvent(t.db.sql, { companyId: c.companyId, type, data: { summary: 'Анна 😀 booked\u2028a cut', n: ids.length } }))!);
      }
      worker.start();
      await until('every event delivered', () => ids.every((id) => receiver.handled.has(id)));
      expect(receiver.seen.filter((s) => s.answer !== 204)).toEqual([]);
      for (const s of receiver.seen) {
        expect(s.headers['content-type']).toBe('application/json'); // what express.raw({ type: 'application/json' }) reads
        expect(s.event).toMatchObject({ id: s.headers['webhook-id'], version: 1, company_id: c.companyId });
      }
      const test = await t.app.inject({ method: 'POST', url: '/v1/webhooks/test', headers: t.as(c.apiKey) });
      expect(test.json()).toMatchObject({ delivered: true, status_code: 204 });

      // Tampered: one byte of the body changed. Stale: the same request, captured and sent again 6 minutes later.
      const captured = receiver.seen.find((s) => s.event?.type === 'call.analyzed')!;
      const tampered = Buffer.from(captured.raw.toString('utf8').replace('"n":', '"n":1'));
      expect(await receiver.resend(captured, tampered)).toBe(401);
      expect(await receiver.resend(captured)).toBe(204); // within the tolerance: the signature holds, the id is already handled
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 6 * 60_000 });
      try {
        expect(await receiver.resend(captured)).toBe(401);
      } finally {
        vi.useRealTimers();
      }

      // A rotation: the receiver still holding the old secret accepts the next delivery, as does one given the new one.
      const rotated = await t.app.inject({ method: 'POST', url: '/v1/company/webhook/rotate-secret', headers: t.as(c.apiKey) });
      expect(rotated.statusCode).toBe(200);
      const afterRotation = (await recordEvent(t.db.sql, { companyId: c.companyId, type: 'booking.updated', data: {} }))!;
      await until('delivered after the rotation', () => receiver.handled.has(afterRotation));
      const sent = receiver.seen.find((s) => s.event?.id === afterRotation)!;
      receiver.secret = rotated.json().secret as string;
      expect(await receiver.resend(sent)).toBe(204);
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });
});
