/**
 * Two independent Parley servers (startServer twice: own HTTP server, call runner, prewarmer, workers and
 * database pool) on one database, behind a non-sticky load balancer: each call's voice webhook lands on one
 * instance and its media stream on the other; status callbacks on both. Webhook deliveries and analysis jobs are
 * claimed by both instances. Every call completes once, every event is delivered once per id, no job runs
 * twice, and the provider sessions opened at the webhook on the instance that did not get the media are closed.
 *
 * On PostgreSQL (DATABASE_URL) the second instance opens its own pool on the test database. On embedded PGlite
 * (single-process) both servers share the one embedded database handle — everything else stays separate.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { testConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { FakeCartesia } from '../fakes/fakeCartesia.js';
import { FakeDeepgram, mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';
import { FakeReceiver } from '../fakes/fakeReceiver.js';
import { ADMIN_TOKEN, botBody } from '../helpers/app.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';
import { untilTranscriptHas } from '../helpers/transcript.js';

const PUBLIC_ORIGIN = 'https://parley.example.com';
const TWILIO_TOKEN = 'twilio-auth-two-instances';
const CALLS = 6;
/** Extra events (no ordering key) so that more are due at once than one instance delivers at a time (16). */
const BULK_EVENTS = 40;
const ANALYSIS = { summary: 'The caller asked when the salon closes.', outcome_type: 'support', confidence: 0.9, extracted_data: { intent: 'opening hours', service: null, date: null, time: null, client_name: null, client_phone: null } };

/**
 * A load balancer with no stickiness: every HTTP request and every WebSocket upgrade goes where `route` says,
 * on its own upstream connection. It records where each went.
 */
class Balancer {
  server: Server;
  url = '';
  readonly log: Array<{ path: string; to: number }> = [];
  constructor(private readonly targets: () => string[], private readonly route: (req: IncomingMessage) => number) {
    this.server = createHttpServer((req, res) => this.proxy(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
      const to = this.route(req);
      this.log.push({ path: req.url ?? '', to });
      const target = new URL(this.targets()[to]!);
      const upstream = connect(Number(target.port), target.hostname, () => {
        const headers = Object.entries(req.headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : [`${k}: ${v}`]));
        upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
        if (head.length) upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private proxy(req: IncomingMessage, res: ServerResponse): void {
    const to = this.route(req);
    this.log.push({ path: req.url ?? '', to });
    const target = new URL(this.targets()[to]!);
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** In front of FakeOpenAI for one instance: counts that instance's analysis requests (non-streamed) and can hold them. */
class AnalysisGate {
  server: Server;
  url = '';
  analysisRequests = 0;
  private held: Array<() => void> = [];
  holding = true;
  constructor(private readonly upstream: string) {
    this.server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const forward = () => {
          const u = new URL(this.upstream);
          const up = httpRequest({ host: u.hostname, port: u.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          });
          up.on('error', () => res.destroy());
          up.end(body);
        };
        const analysis = req.url === '/v1/chat/completions' && !body.toString().includes('"stream":true');
        if (!analysis) return forward();
        this.analysisRequests++;
        if (this.holding) this.held.push(forward);
        else forward();
      });
    });
  }

  get heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const f of this.held.splice(0)) f();
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe('two Parley instances on one database behind a non-sticky load balancer', () => {
  let db: TestDatabase;
  let dbB: Database;
  let deepgram: FakeDeepgram;
  let cartesia: FakeCartesia;
  let openai: FakeOpenAI;
  let receiver: FakeReceiver;
  const gates: AnalysisGate[] = [];
  const servers: RunningServer[] = [];
  let lb: Balancer;
  let voiceTurn = 0;
  let mediaTurn = 0;
  let statusTurn = 0;
  /** Deliveries in flight at the receiver, and the most seen at once. */
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    db = await createTestDb();
    dbB = usingRealPostgres() ? await openDatabase({ databaseUrl: db.url!, dataDir: 'memory://', poolMax: 10 }) : db;
    deepgram = await FakeDeepgram.start({ utterances: ['what time do you close today'], finalLatencyMs: 50 });
    cartesia = await FakeCartesia.start({ firstAudioLatencyMs: 20, chunkIntervalMs: 0 });
    openai = await FakeOpenAI.start({ firstTokenLatencyMs: 20 });
    openai.reply = { text: 'We close at six today.' };
    openai.jsonReplies = [JSON.stringify(ANALYSIS)];
    receiver = await FakeReceiver.start();
    receiver.behaviour = (req) => {
      // Bulk events are held 3 s, so more are due at once than one instance's 16 delivery slots.
      const delayMs = req.json?.data?.bulk ? 3000 : 0;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => inFlight--, delayMs);
      return { status: 200, delayMs };
    };
    for (const database of [db, dbB]) {
      const gate = new AnalysisGate(openai.baseUrl);
      await gate.listen();
      gates.push(gate);
      const config = testConfig({
        HOST: '127.0.0.1',
        PUBLIC_URL: PUBLIC_ORIGIN,
        ADMIN_TOKEN,
        CALL_TOKEN_SECRET: 'call-token-secret-shared-by-both',
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        RATE_LIMIT_PER_MIN: '100000',
        WORKERS_ENABLED: 'true',
        WEBHOOK_ALLOW_HTTP: 'true',
        WEBHOOK_ALLOW_PRIVATE: 'true',
        DEEPGRAM_API_KEY: deepgram.options.apiKey,
        DEEPGRAM_URL: deepgram.url,
        OPENAI_API_KEY: openai.apiKey,
        OPENAI_BASE_URL: gate.url,
        CARTESIA_API_KEY: cartesia.options.apiKey,
        CARTESIA_URL: cartesia.url.replace(/^ws/, 'http'),
        CARTESIA_VOICE_EN: 'voice-1',
      });
      servers.push(await startServer(config, createLogger('silent'), { port: 0, database, prewarmTtlMs: 1500 }));
    }
    // Voice webhooks alternate A, B, A…; each call's media goes to the other one (calls are dialled one at a
    // time); status callbacks alternate on their own.
    lb = new Balancer(
      () => servers.map((s) => s.url),
      (req) => {
        if (req.url?.startsWith('/twilio/voice')) return voiceTurn++ % 2;
        if (req.url?.startsWith('/twilio/media')) return (mediaTurn++ + 1) % 2;
        return statusTurn++ % 2;
      },
    );
    await lb.listen();
  }, 60_000);

  afterAll(async () => {
    for (const g of gates) g.release();
    for (const s of servers) await s.stop();
    if (dbB && dbB !== db) await dbB.close();
    await db?.close();
    await lb?.close();
    for (const g of gates) await g.close();
    await Promise.all([deepgram?.close(), cartesia?.close(), openai?.close(), receiver?.close()]);
  });

  it('completes every call once, delivers every event once, runs every job once, closes orphaned sessions', async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    // Set-up through either instance: it is all in the database.
    const created = await a.app.inject({ method: 'POST', url: '/v1/admin/companies', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'Two Instances Co' } });
    expect(created.statusCode).toBe(201);
    const { company, api_key: apiKey } = created.json() as { company: { id: string }; api_key: { key: string } };
    const auth = { authorization: `Bearer ${apiKey.key}` };
    const hook = await b.app.inject({ method: 'PUT', url: '/v1/company/webhook', headers: auth, payload: { url: receiver.url } });
    expect(hook.statusCode, hook.body).toBeLessThan(300);
    const botNumber = '+15550100777';
    const bot = await a.app.inject({ method: 'POST', url: '/v1/bots', headers: auth, payload: botBody({ phone_number: botNumber, config: { greeting: 'Hello, Alpha Salon.', systemPrompt: 'Be brief.' } }) });
    expect(bot.statusCode, bot.body).toBe(201);

    // Dial one at a time (so the balancer's turns pair each webhook with the other instance's media), then talk at once.
    const callers: TwilioCaller[] = [];
    for (let i = 0; i < CALLS; i++) {
      callers.push(await TwilioCaller.dial({ server: lb.url, publicOrigin: PUBLIC_ORIGIN, authToken: TWILIO_TOKEN, from: `+1555765${String(1000 + i)}`, to: botNumber }));
    }
    const voiceTargets = lb.log.filter((l) => l.path.startsWith('/twilio/voice')).map((l) => l.to);
    const mediaTargets = lb.log.filter((l) => l.path.startsWith('/twilio/media')).map((l) => l.to);
    expect(voiceTargets).toEqual([0, 1, 0, 1, 0, 1]);
    expect(mediaTargets).toEqual([1, 0, 1, 0, 1, 0]);

    await Promise.all(callers.map(async (caller) => {
      expect(await caller.waitForBotAudio(10_000)).toBe(true); // the greeting
      await caller.waitForBotQuiet(300);
      await caller.say(mulawToneFrame(1000, 8000));
      await untilTranscriptHas(db.sql, caller.callId, 'bot', 'We close at six');
      await caller.hangup();
    }));

    // Twilio's status callbacks, each on whichever instance the balancer picks, and a duplicate on the other.
    const statusCallback = async (callSid: string) => {
      const form = { CallSid: callSid, AccountSid: 'AC00000000000000000000000000000000', CallStatus: 'completed', CallDuration: '3', SequenceNumber: '3' };
      const res = await fetch(`${lb.url}/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(TWILIO_TOKEN, `${PUBLIC_ORIGIN}/twilio/status`, form) },
        body: new URLSearchParams(form).toString(),
      });
      expect(res.status).toBe(204);
    };
    for (const c of callers) {
      await statusCallback(c.callSid);
      await statusCallback(c.callSid);
    }
    expect(new Set(lb.log.filter((l) => l.path.startsWith('/twilio/status')).map((l) => l.to))).toEqual(new Set([0, 1]));

    const callIds = callers.map((c) => c.callId);
    const calls = await until(async () => {
      const rows = await db.sql<{ id: string; status: string; instance_id: string | null }[]>`select id, status, instance_id from calls where id = any(${callIds})`;
      return rows.length === CALLS && rows.every((r) => r.status === 'completed') ? rows : null;
    });
    // Each call ran on the instance that got its media: both instances ran calls.
    expect(new Set(calls.map((c) => c.instance_id)).size).toBe(2);

    // Analysis jobs: held at each instance's LLM until both instances hold one (each runs at most 2 at once and
    // there are 6), then released.
    await until(() => gates.every((g) => g.heldCount > 0));
    for (const g of gates) g.release();

    // More events due at once than one instance delivers at a time: both deliver side by side.
    for (let i = 0; i < BULK_EVENTS; i++) await recordEvent(db.sql, { companyId: company.id, type: 'booking.updated', data: { bulk: true, n: i } });

    const expectedEvents = CALLS * 3 + BULK_EVENTS; // call.started, call.ended, call.analyzed per call
    await until(async () => {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from webhook_events where company_id = ${company.id} and status = 'delivered'`;
      return row!.n === expectedEvents;
    }, 60_000);

    // Every call completed once: one call.ended, one outcome, one analysis job that ran once.
    const ended = await db.sql<{ ordering_key: string; n: number }[]>`
      select ordering_key, count(*)::int as n from webhook_events where company_id = ${company.id} and type = 'call.ended' group by ordering_key`;
    expect(ended.map((e) => e.ordering_key).sort()).toEqual([...callIds].sort());
    expect(ended.every((e) => e.n === 1)).toBe(true);
    const outcomes = await db.sql`select call_id from outcomes where call_id = any(${callIds})`;
    expect(outcomes).toHaveLength(CALLS);
    const jobs = await db.sql<{ status: string; attempts: number }[]>`select status, attempts from jobs where dedupe_key = any(${callIds.map((id) => `analyze:${id}`)})`;
    expect(jobs).toHaveLength(CALLS);
    expect(jobs.every((j) => j.status === 'done' && j.attempts === 1)).toBe(true);
    // …and no analysis ran twice: one LLM analysis per call, split between the two instances.
    expect(gates[0]!.analysisRequests + gates[1]!.analysisRequests).toBe(CALLS);
    expect(gates[0]!.analysisRequests).toBeGreaterThan(0);
    expect(gates[1]!.analysisRequests).toBeGreaterThan(0);

    // Every event delivered once per id.
    const byId = new Map<string, number>();
    for (const r of receiver.delivered()) byId.set(r.json!.id!, (byId.get(r.json!.id!) ?? 0) + 1);
    expect(byId.size).toBe(expectedEvents);
    expect([...byId.values()].every((n) => n === 1)).toBe(true);
    expect(receiver.requests).toHaveLength(expectedEvents);
    // More than one instance's 16 delivery slots were in flight at once: both instances delivered.
    expect(maxInFlight).toBeGreaterThan(16);
    const attempts = async (s: RunningServer) => ((await s.app.metrics.webhookAttempts.get()).values.find((v) => v.labels.outcome === 'delivered')?.value ?? 0);
    expect((await attempts(a)) + (await attempts(b))).toBe(expectedEvents);

    // Provider sessions: the webhook's instance opened them ahead, the media's instance opened its own (it had
    // nothing prewarmed), so two recognizer sockets per call — and the unadopted one was closed at its expiry.
    expect(deepgram.connections).toHaveLength(2 * CALLS);
    await Promise.all(deepgram.connections.map((c) => c.closed));
  }, 120_000);
});
