/**
 * A Cartesia session closed while it is reconnecting (the socket dropped between turns, the next phrase redials,
 * and the call ends meanwhile) must not leave the redialled socket open once it connects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { CartesiaTts } from '../../src/providers/tts/cartesia.js';
import { until } from '../helpers/until.js';

/** A bare WebSocket server that accepts every upgrade and tracks which sockets are open. */
let http: Server;
let wss: WebSocketServer;
const sockets: WebSocket[] = [];
let accepted = 0;
let upgrades = 0;
/** Upgrades after the first wait here until the test lets them through (a handshake in flight). */
let held: (() => void)[] = [];

beforeAll(async () => {
  http = createServer((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    upgrades++;
    const accept = (): void =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        accepted++;
        sockets.push(ws);
      });
    if (upgrades === 1) accept();
    else held.push(accept);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

const openSockets = (): number => sockets.filter((s) => s.readyState === s.OPEN).length;

describe('CartesiaTts session closed during a reconnect', () => {
  it('closes the socket that connects after close()', async () => {
    const port = (http.address() as AddressInfo).port;
    const tts = new CartesiaTts({ apiKey: 'k', baseUrl: `ws://127.0.0.1:${port}`, voice: 'v' });
    const session = await tts.open({ format: TWILIO_FORMAT, language: 'en' });
    expect(accepted).toBe(1);
    // The socket drops between turns; the client notices.
    sockets[0]!.terminate();
    await until(() => openSockets() === 0, 5000);
    // Wait for the client side to see the close before the next turn (it redials on send).
    await new Promise((r) => setTimeout(r, 50));
    const turn = session.startTurn(new AbortController().signal);
    turn.pushText('Hello there. ');
    turn.end();
    // The call ends while the redial's handshake is in flight.
    await until(() => upgrades === 2, 5000);
    await session.close();
    for (const accept of held) accept();
    held = [];
    await until(() => accepted === 2, 5000);
    // The redialled socket is closed by the client, not left open for the life of the process.
    await until(() => sockets[1]!.readyState === sockets[1]!.CLOSED, 5000);
    expect(openSockets()).toBe(0);
  });
});
