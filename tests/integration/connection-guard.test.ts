/**
 * What a stranger can hold before authenticating (src/connection-guard.ts, the socket routes): a half-sent request
 * or a silent connection is cut at the header deadline; a socket that never authenticates and ignores the close
 * frame is cut a second after it; binary or oversized frames before `start` cut the socket at once; and one client
 * IP's unauthenticated connections are capped — by the peer's address for a direct client, by the forwarded
 * address for WebSocket upgrades through a trusted proxy — while an authenticated call from that IP goes on and no
 * longer counts. An answered request is no authentication: a connection that goes on to send another request, or
 * sits idle, still counts (an idle one gives way to its IP's next connection); a valid Twilio signature or API
 * key takes its connection out of the count.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { WEB_CALL_SOCKET_PATH } from '../../src/telephony/web/socket-route.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

const providers = () => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.', { firstTokenMs: 5 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) });

/** The port of the app listening at `url`. */
const portOf = (app: { url: string }) => Number(new URL(app.url).port);

interface RawConnection {
  socket: Socket;
  /** Resolves when the server ends the connection. */
  closed: Promise<void>;
  /** Everything the server sent on it. */
  received: () => string;
}

/** The raw connections a test opened: closed after it, passed or failed, so the next test starts with none. */
const opened: Socket[] = [];
afterEach(() => {
  for (const socket of opened.splice(0)) socket.destroy();
});

/** A raw TCP connection to the app, from `localAddress` (any 127.x.y.z: each test its own client IP). */
function rawConnection(app: { url: string }, localAddress = '127.0.0.1'): RawConnection {
  const socket = connect({ port: portOf(app), host: '127.0.0.1', localAddress });
  opened.push(socket);
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed, received: () => text };
}

/** The status of the first whole response (headers and Content-Length body) in `text`, or null. */
function wholeResponse(text: string): number | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
  return text.length >= end + 4 + length ? Number(text.slice(9, 12)) : null;
}

/** Sends `request` (or part of one) on `c` and waits for a whole answer: its status, or null when the server cut it. */
function exchange(c: RawConnection, request: string): Promise<number | null> {
  const from = c.received().length;
  return new Promise((resolve) => {
    const onData = (): void => {
      const status = wholeResponse(c.received().slice(from));
      if (status === null) return;
      c.socket.off('data', onData);
      resolve(status);
    };
    c.socket.on('data', onData);
    void c.closed.then(() => resolve(wholeResponse(c.received().slice(from))));
    c.socket.write(request);
  });
}

const GET_PAGE = 'GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n';
const GET_NOTHING = 'GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n';
/** The start of a request whose headers never end (a slow-header client). */
const HALF_REQUEST = 'GET /openapi.json HTTP/1.1\r\nHost: x\r\n';

/**
 * Returns once the server has read what was written on any connection before this call: a round trip on another
 * kept-alive connection (`probe`), whose request it reads in the same turn of its event loop or a later one.
 */
async function serverHasRead(probe: RawConnection): Promise<void> {
  expect(await exchange(probe, GET_PAGE)).toBe(200);
}

/** A complete HTTP request on a fresh keep-alive connection: whether it was answered (false: the server cut it). */
async function answeredRequest(app: { url: string }, localAddress?: string, request = GET_PAGE): Promise<{ answered: boolean; socket: Socket; c: RawConnection }> {
  const c = rawConnection(app, localAddress);
  const status = await exchange(c, request);
  return { answered: status !== null, socket: c.socket, c };
}

/** A WebSocket upgrade of the web-call socket done by hand, so the client never answers a close frame. */
async function deafWebSocket(app: WebCallApp): Promise<{ closed: Promise<void>; received: () => string }> {
  const c = rawConnection(app);
  c.socket.write([
    `GET ${WEB_CALL_SOCKET_PATH} HTTP/1.1`, 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', `Origin: ${PUBLIC_URL}`, '', '',
  ].join('\r\n'));
  await new Promise<void>((resolve) => c.socket.on('data', () => {
    if (c.received().includes('\r\n\r\n')) resolve();
  }));
  expect(c.received()).toMatch(/^HTTP\/1\.1 101/);
  return c;
}

/** A web-call socket (optionally as forwarded by a proxy for `forwardedFor`): its client, or the refusal's status. */
async function webSocket(app: WebCallApp, forwardedFor?: string): Promise<WebCallClient | number> {
  return WebCallClient.connect(app.wsUrl, PUBLIC_URL, forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}).catch((err: Error) => {
    const status = /Unexpected server response: (\d+)/.exec(err.message);
    if (!status) throw err;
    return Number(status[1]);
  });
}

/** A web call that has authenticated (its start accepted, `ready` received). */
async function liveCall(app: WebCallApp, forwardedFor?: string): Promise<WebCallClient> {
  const { apiKey, botId } = await app.newBot();
  const minted = await app.mint(apiKey, botId);
  const client = await webSocket(app, forwardedFor);
  if (typeof client === 'number') throw new Error(`call refused: ${client}`);
  client.send({ type: 'start', token: minted.token });
  await client.untilMessage((m) => m.type === 'ready');
  return client;
}

describe('behind the default TRUST_PROXY (loopback is a proxy)', () => {
  let app: WebCallApp;
  beforeAll(async () => {
    app = await startWebCallApp(providers, {
      startTimeoutMs: 2000,
      env: { HTTP_HEADERS_TIMEOUT_MS: '1000', MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: '2' },
    });
  }, 180_000);
  afterAll(async () => app.close());

  it('cuts a request whose headers trickle in past HTTP_HEADERS_TIMEOUT_MS, and a connection that sends nothing', { timeout: 15_000 }, async () => {
    const trickle = rawConnection(app);
    trickle.socket.write(`GET ${WEB_CALL_SOCKET_PATH} HTTP/1.1\r\nHost: x\r\n`);
    const drip = setInterval(() => trickle.socket.write('X-Padding: 1\r\n'), 200);
    const silent = rawConnection(app);
    await Promise.all([trickle.closed, silent.closed]);
    clearInterval(drip);
    expect(trickle.socket.destroyed && silent.socket.destroyed).toBe(true);
  });

  it('cuts a socket that never sends start and ignores the close frame, a second after the deadline', { timeout: 15_000 }, async () => {
    const deaf = await deafWebSocket(app);
    await deaf.closed;
    expect(deaf.received()).toContain('PARLEY_ERR_UNAUTHORIZED');
  });

  it('terminates a socket that sends a binary or an oversized frame before start', async () => {
    for (const frame of [Buffer.alloc(640), 'x'.repeat(20 * 1024)]) {
      const client = await webSocket(app);
      if (typeof client === 'number') throw new Error(`refused: ${client}`);
      client.sendRaw(frame);
      // 1006: no close handshake — cut at once, not refused at the start deadline (1008).
      expect(await client.closed).toBe(1006);
    }
  });

  it('drops microphone frames racing the token check quietly: the call starts', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const client = await webSocket(app);
    if (typeof client === 'number') throw new Error(`refused: ${client}`);
    client.send({ type: 'start', token: minted.token });
    for (let i = 0; i < 50; i++) client.sendRaw(Buffer.alloc(640));
    await client.until(() => client.of('ready').length > 0 || client.closeCode !== null);
    expect(client.of('ready')).toHaveLength(1);
    client.send({ type: 'end' });
    expect(await client.closed).toBe(1000);
  });

  it('caps a forwarded client IP\'s unauthenticated upgrades (429), while its authenticated call goes on', async () => {
    const ip = '203.0.113.7';
    const call = await liveCall(app, ip);
    const waiting = [await webSocket(app, ip), await webSocket(app, ip)];
    expect(waiting.every((w) => typeof w !== 'number')).toBe(true);
    expect(await webSocket(app, ip)).toBe(429);
    // Another client behind the same proxy is not refused for it.
    const other = await webSocket(app, '203.0.113.8');
    expect(typeof other).not.toBe('number');
    expect(call.closeCode).toBeNull();
    call.send({ type: 'end' });
    expect(await call.closed).toBe(1000);
    for (const w of [...waiting, other]) if (typeof w !== 'number') w.ws.terminate();
  });
});

/** Client connections from `ip` that the server has not closed. */
const stillOpen = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed).length;

describe('direct clients (TRUST_PROXY=false)', () => {
  let app: WebCallApp;
  beforeAll(async () => {
    app = await startWebCallApp(providers, {
      // Idle kept-alive connections are closed by the guard here, never by the keep-alive timeout.
      env: { TRUST_PROXY: 'false', MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: '2', MAX_CONNECTIONS: '30', HTTP_KEEP_ALIVE_TIMEOUT_MS: '120000' },
    });
  }, 180_000);
  afterAll(async () => app.close());

  it('an answered request authenticates nothing: one address answered once per connection cannot fill MAX_CONNECTIONS with half-sent next requests', async () => {
    // The auditor's attack: a 404 on each connection, then a second request whose headers never end.
    const attacker: RawConnection[] = [];
    const probe = rawConnection(app, '127.0.0.9');
    for (let i = 0; i < 30; i++) {
      const c = rawConnection(app, '127.0.0.2');
      attacker.push(c);
      if ((await exchange(c, GET_NOTHING)) === null) continue;
      c.socket.write(HALF_REQUEST);
      await serverHasRead(probe);
    }
    const legit = await answeredRequest(app, '127.0.0.3');
    expect(legit.answered).toBe(true);
    // The cap's two hold their half-sent requests; every other attempt was cut.
    await Promise.all(attacker.slice(2).map((c) => c.closed));
    expect(stillOpen(attacker.map((c) => c.socket))).toBe(2);
    for (const s of [legit.socket, ...attacker.map((c) => c.socket)]) s.destroy();
  });

  it('a connection whose next request is arriving counts: sent after the answer, pipelined with the request, or a body left unread', async () => {
    const cases = [
      { ip: '127.0.0.4', first: GET_NOTHING, then: HALF_REQUEST },
      { ip: '127.0.0.5', first: GET_NOTHING + HALF_REQUEST, then: '' },
      // Refused (401, no key) before its body of 100,000 bytes arrived: the body is still arriving.
      { ip: '127.0.0.6', first: 'POST /v1/bots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a', then: 'bc' },
    ];
    const probe = rawConnection(app, '127.0.0.9');
    for (const { ip, first, then } of cases) {
      const busy = [rawConnection(app, ip), rawConnection(app, ip)];
      for (const c of busy) {
        expect(await exchange(c, first)).not.toBeNull();
        c.socket.write(then);
      }
      await serverHasRead(probe);
      const third = await answeredRequest(app, ip);
      expect({ ip, answered: third.answered }).toEqual({ ip, answered: false });
      for (const s of [...busy.map((c) => c.socket), third.socket]) s.destroy();
    }
  });

  it('an idle kept-alive stranger connection still counts, but gives way to its address\'s next connection', async () => {
    // Thirty answered connections left open from one address: for each new one the oldest idle one is closed, so
    // they never hold MAX_CONNECTIONS (30) and another address is answered.
    const idle: RawConnection[] = [];
    for (let i = 0; i < 30; i++) {
      const next = await answeredRequest(app, '127.0.0.7');
      expect(next.answered).toBe(true);
      idle.push(next.c);
    }
    expect((await answeredRequest(app, '127.0.0.8')).answered).toBe(true);
    await Promise.all(idle.slice(0, 28).map((c) => c.closed));
    expect(stillOpen(idle.map((c) => c.socket))).toBe(2);
    // The two left are still usable.
    for (const c of idle.slice(28)) expect(await exchange(c, GET_PAGE)).toBe(200);
  });

  it('refuses the connection over the per-IP cap, while an authenticated call from that IP does not count', async () => {
    const call = await liveCall(app);
    // Two connections whose request has not arrived in full: the cap's two.
    const half = [rawConnection(app), rawConnection(app)];
    for (const c of half) c.socket.write(HALF_REQUEST);
    const third = await answeredRequest(app);
    expect(third.answered).toBe(false);
    expect(call.closeCode).toBeNull();
    call.send({ type: 'end' });
    expect(await call.closed).toBe(1000);
    for (const c of [...half.map((h) => h.socket), third.socket]) c.destroy();
  });
});

const TWILIO_AUTH = 'twilio-auth-token-test';
const TWILIO_ORIGIN = 'https://voice.example.com';

/** A status callback as Twilio sends it, signed (or not). */
function twilioStatusRequest(signed: boolean): string {
  const form = { CallSid: 'CA-unknown', CallStatus: 'completed', SequenceNumber: '1' };
  const body = new URLSearchParams(form).toString();
  const signature = signed ? computeSignature(TWILIO_AUTH, `${TWILIO_ORIGIN}/twilio/status`, form) : 'bogus';
  return [
    'POST /twilio/status HTTP/1.1', 'Host: x', 'Content-Type: application/x-www-form-urlencoded',
    `X-Twilio-Signature: ${signature}`, `Content-Length: ${body.length}`, '', body,
  ].join('\r\n');
}

describe('authenticated connections of direct clients (TRUST_PROXY=false)', () => {
  let t: TestApp & { url: string };
  beforeAll(async () => {
    const app = await createTestApp({
      env: { TRUST_PROXY: 'false', MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: '2' },
      publicRoutes: (db) => [twilioVoiceRoutes({ sql: db.sql, authToken: TWILIO_AUTH, publicOrigin: TWILIO_ORIGIN, callTokenSecret: 'call-token-secret' })],
    });
    t = { ...app, url: await app.app.listen({ port: 0, host: '127.0.0.1' }) };
  }, 180_000);
  afterAll(async () => t.close());

  /**
   * Five connections from `ip` each authenticated by its first request and kept alive, then the cap filled by two
   * half-sent strangers' requests from the same address: every kept-alive connection is still answered.
   */
  async function keptAlivePastTheCap(ip: string, request: string, status: number): Promise<void> {
    const kept: RawConnection[] = [];
    for (let i = 0; i < 5; i++) {
      const c = rawConnection(t, ip);
      expect(await exchange(c, request)).toBe(status);
      kept.push(c);
    }
    const strangers = [rawConnection(t, ip), rawConnection(t, ip)];
    for (const c of strangers) expect(await exchange(c, GET_PAGE)).toBe(200);
    for (const c of strangers) c.socket.write(HALF_REQUEST);
    await serverHasRead(kept[0]!);
    for (const c of kept) expect(await exchange(c, request)).toBe(status);
    // The strangers hold the cap: a third is refused.
    expect((await answeredRequest(t, ip)).answered).toBe(false);
    for (const c of [...kept, ...strangers]) c.socket.destroy();
  }

  it('Twilio webhooks with a valid signature, kept alive past the cap, are all answered', async () => {
    // As Twilio sends a busy account's webhooks: many kept-alive connections from one address.
    await keptAlivePastTheCap('127.0.1.1', twilioStatusRequest(true), 204);
  });

  it('an API-key client kept alive past the cap is never capped', async () => {
    const { apiKey } = await t.createCompany();
    await keptAlivePastTheCap('127.0.1.2', `GET /v1/company HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${apiKey}\r\n\r\n`, 200);
  });

  it('a Twilio webhook with a bad signature authenticates nothing: its connection then counts', async () => {
    const busy = [rawConnection(t, '127.0.1.3'), rawConnection(t, '127.0.1.3')];
    for (const c of busy) {
      expect(await exchange(c, twilioStatusRequest(false))).toBe(403);
      c.socket.write(HALF_REQUEST);
    }
    await serverHasRead(rawConnection(t, '127.0.1.4'));
    expect((await answeredRequest(t, '127.0.1.3')).answered).toBe(false);
    for (const c of busy) c.socket.destroy();
  });
});
