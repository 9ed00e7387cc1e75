/**
 * What a stranger can hold before authenticating (src/connection-guard.ts, the socket routes): a half-sent request
 * or a silent connection is cut at the header deadline; a socket that never authenticates and ignores the close
 * frame is cut a second after it; binary or oversized frames before `start` cut the socket at once; and one client
 * IP's unauthenticated connections are capped — by the peer's address for a direct client, by the forwarded
 * address for WebSocket upgrades through a trusted proxy — while an authenticated call from that IP goes on and no
 * longer counts.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_CALL_SOCKET_PATH } from '../../src/telephony/web/socket-route.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

const providers = () => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.', { firstTokenMs: 5 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) });

/** The app's port. */
const portOf = (app: WebCallApp) => Number(new URL(app.url).port);

/** A raw TCP connection to the app; `closed` resolves when the server ends it. */
function rawConnection(app: WebCallApp): { socket: Socket; closed: Promise<void>; received: () => string } {
  const socket = connect(portOf(app), '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed, received: () => text };
}

/** A complete HTTP request on a fresh keep-alive connection: whether it was answered (false: the server cut it). */
async function answeredRequest(app: WebCallApp): Promise<{ answered: boolean; socket: Socket }> {
  const c = rawConnection(app);
  c.socket.write('GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n');
  const answered = await new Promise<boolean>((resolve) => {
    c.socket.once('data', () => resolve(true));
    void c.closed.then(() => resolve(c.received().length > 0));
  });
  return { answered, socket: c.socket };
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

describe('direct clients (TRUST_PROXY=false)', () => {
  let app: WebCallApp;
  beforeAll(async () => {
    app = await startWebCallApp(providers, {
      env: { TRUST_PROXY: 'false', MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: '2' },
    });
  }, 180_000);
  afterAll(async () => app.close());

  it('a connection whose request was answered no longer counts: kept-alive clients past the cap are all answered', async () => {
    // As Twilio sends a busy account's webhooks: many kept-alive connections from one address, each with a whole request.
    const kept = [];
    for (let i = 0; i < 5; i++) kept.push(await answeredRequest(app));
    expect(kept.map((k) => k.answered)).toEqual([true, true, true, true, true]);
    for (const k of kept) k.socket.destroy();
  });

  it('refuses the connection over the per-IP cap, while an authenticated call from that IP does not count', async () => {
    const call = await liveCall(app);
    // Two connections whose request has not arrived in full: the cap's two.
    const half = [rawConnection(app), rawConnection(app)];
    for (const c of half) c.socket.write('GET /openapi.json HTTP/1.1\r\nHost: x\r\n');
    const third = await answeredRequest(app);
    expect(third.answered).toBe(false);
    expect(call.closeCode).toBeNull();
    call.send({ type: 'end' });
    expect(await call.closed).toBe(1000);
    for (const c of [...half.map((h) => h.socket), third.socket]) c.destroy();
  });
});
