/**
 * What a stranger can hold before authenticating. Every connection costs a file descriptor; before this guard a
 * thousand half-sent requests (one header line every few seconds) held the process's descriptors for a minute
 * each, and /readyz, the Twilio webhooks and new calls got empty replies while the attack lasted.
 *
 * - the HTTP server's timeouts: request headers within HTTP_HEADERS_TIMEOUT_MS, a whole request (uploads
 *   included) within HTTP_REQUEST_TIMEOUT_MS, idle keep-alive connections closed after HTTP_KEEP_ALIVE_TIMEOUT_MS;
 * - MAX_CONNECTIONS per process, below the open-file limit, so live calls keep descriptors for their providers;
 * - MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: connections one client IP holds that have not authenticated. A
 *   connection stops counting once it has (connectionAuthenticated: a call socket whose start was accepted, an API
 *   request with a valid key, any request answered in full — a signed Twilio webhook, a page), so Twilio's many
 *   concurrent media streams and webhooks, all from its few addresses, are never refused by it. A TRUST_PROXY peer (a load balancer) carries many clients on its connections: those are counted
 *   instead at each WebSocket upgrade by the forwarded client IP (request.ip), and refused with 429; half-sent
 *   requests are the balancer's to time out.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { trustsPeer, type Config } from './config.js';

/** Releases of the counted connections: each connection counted once, released once (authenticated or closed). */
const releases = new WeakMap<Socket, () => void>();

/** The connection has authenticated: it no longer counts against its client IP's cap. */
export function connectionAuthenticated(socket: Socket): void {
  const release = releases.get(socket);
  releases.delete(socket);
  release?.();
}

type GuardConfig = Pick<Config, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'MAX_CONNECTIONS' | 'MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP' | 'TRUST_PROXY'>;

/** Open unauthenticated connections per client IP, capped. */
class ClientCounts {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts `socket` for `client` until it closes or authenticates; false (nothing counted) when at the cap. */
  admit(socket: Socket, client: string): boolean {
    if (this.max === 0 || releases.has(socket)) return true;
    const count = this.open.get(client) ?? 0;
    if (count >= this.max) return false;
    this.open.set(client, count + 1);
    const release = (): void => {
      const left = (this.open.get(client) ?? 1) - 1;
      if (left > 0) this.open.set(client, left);
      else this.open.delete(client);
    };
    releases.set(socket, release);
    socket.once('close', () => connectionAuthenticated(socket));
    return true;
  }
}

/**
 * Node checks the header and request deadlines every connectionsCheckingInterval (30 s by default), so a
 * half-sent request lived up to 30 s past its deadline; a fraction of the deadline keeps it close.
 */
function checkingInterval(headersTimeoutMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}

/** Descriptors a live call holds: its own socket, and about 3 to its providers (speech, voice, model). */
const DESCRIPTORS_PER_CALL = 4;
const CONNECTIONS_WHEN_LIMIT_UNKNOWN = 800;

/**
 * MAX_CONNECTIONS unset (0): as many connections as the open-file limit has room for at DESCRIPTORS_PER_CALL each —
 * a fixed number either refused calls a large machine could carry (1,000 calls on 4 cores) or let a small limit
 * (1,024) run out of descriptors. The soft limit is read from /proc/self/limits (Linux).
 */
export function connectionsForOpenFileLimit(limits = readProcLimits()): number {
  const soft = /^Max open files\s+(\d+)/m.exec(limits ?? '')?.[1];
  return soft ? Math.max(16, Math.floor(Number(soft) / DESCRIPTORS_PER_CALL)) : CONNECTIONS_WHEN_LIMIT_UNKNOWN;
}

function readProcLimits(): string | null {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

/** The HTTP server's timeouts and connection limits (before listen). */
function limitServer(server: Server, config: GuardConfig): void {
  server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = config.HTTP_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = config.MAX_CONNECTIONS || connectionsForOpenFileLimit();
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkingInterval(config.HTTP_HEADERS_TIMEOUT_MS);
}

/**
 * Node's header deadline starts at a request's first byte: a connection that sends nothing at all would be held
 * for ever. It gets the same deadline for its first byte.
 */
function cutIfSilent(socket: Socket, deadlineMs: number): void {
  const timer = setTimeout(() => {
    if (socket.bytesRead === 0) socket.destroy();
  }, deadlineMs).unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Installs the limits on `server` and returns the onRequest hook that caps WebSocket upgrades forwarded by a
 * trusted proxy per client IP.
 */
export function installConnectionGuard(server: Server, config: GuardConfig): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  limitServer(server, config);
  const counts = new ClientCounts(config.MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP);
  const isProxy = trustsPeer(config.TRUST_PROXY);
  server.on('connection', (socket: Socket) => {
    cutIfSilent(socket, config.HTTP_HEADERS_TIMEOUT_MS);
    const peer = socket.remoteAddress;
    // A client that closed at once has no address left; nothing to count.
    if (!peer || isProxy(peer)) return;
    if (!counts.admit(socket, peer)) socket.destroy();
  });
  return async (request, reply) => {
    const socket = request.raw.socket;
    if (request.headers.upgrade === undefined || !socket.remoteAddress || !isProxy(socket.remoteAddress)) return;
    if (counts.admit(socket, request.ip)) return;
    request.log.warn('refused a WebSocket upgrade: too many unauthenticated connections from this client IP');
    await reply.status(429).send({ error: { code: 'PARLEY_ERR_RATE_LIMITED', message: 'Too many unauthenticated connections from this address' } });
  };
}
