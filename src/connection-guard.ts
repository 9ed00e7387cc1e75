/**
 * What a stranger can hold before authenticating. Every connection costs a file descriptor; before this guard a
 * thousand half-sent requests (one header line every few seconds) held the process's descriptors for a minute
 * each, and /readyz, the Twilio webhooks and new calls got empty replies while the attack lasted.
 *
 * - the HTTP server's timeouts: request headers within HTTP_HEADERS_TIMEOUT_MS, a whole request (uploads
 *   included) within HTTP_REQUEST_TIMEOUT_MS, idle keep-alive connections closed after HTTP_KEEP_ALIVE_TIMEOUT_MS;
 * - MAX_CONNECTIONS per process, below the open-file limit, so live calls keep descriptors for their providers;
 * - MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: connections one client IP holds that have not authenticated. A
 *   connection leaves the count only when it authenticates (connectionAuthenticated: an API key or the admin token
 *   accepted, a valid Twilio webhook signature, a voicemail token, a call socket whose start was accepted), so
 *   Twilio's many concurrent media streams and webhooks, all from its few addresses, are never refused by it. An
 *   answered request is no authentication: it used to release its connection, and one address then held every
 *   connection by sending a 404's worth first and trickling a second request after it (or idling). A stranger's
 *   kept-alive connection that is idle — its requests answered, nothing arriving — still counts, but gives way: a
 *   new connection from its IP at the cap closes the longest-open idle one instead of being refused; only when
 *   none is idle is the new one refused. A TRUST_PROXY peer (a load balancer) carries many clients on its
 *   connections: those are counted instead at each WebSocket upgrade by the forwarded client IP (request.ip), and
 *   refused with 429 (an upgrade is never idle); half-sent requests are the balancer's to time out.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { trustsPeer, type Config } from './config.js';

/** A connection in its client IP's count, until it authenticates or closes. */
interface CountedConnection {
  counts: ClientCounts;
  client: string;
  /** Requests begun on it and not yet answered (Fastify's onRequest and onResponse hooks). */
  unanswered: number;
  /** A request on it has been answered: it may be a kept-alive connection waiting for its next one. */
  answeredOnce: boolean;
}

/** The counted connections: each counted once, forgotten once (authenticated or closed). */
const counted = new WeakMap<Socket, CountedConnection>();

/** The connection has authenticated: it no longer counts against its client IP's cap, for good. */
export function connectionAuthenticated(socket: Socket): void {
  const connection = counted.get(socket);
  if (!connection) return;
  counted.delete(socket);
  connection.counts.remove(connection.client, socket);
}

/**
 * Whether a request is arriving on the connection: Node's parser of it (`socket.parser`, internal) says how long
 * its current message has been arriving (duration(), 0 between messages) — a next request trickling in after the
 * answer, one pipelined with it, or the unread body of one answered early. With no parser to ask (an upgraded
 * socket, a Node without it) the answer is yes: such a connection is never taken for idle, so it keeps counting.
 */
function requestArriving(socket: Socket): boolean {
  const parser = (socket as Socket & { parser?: { duration?: () => number } | null }).parser;
  return typeof parser?.duration !== 'function' || parser.duration() > 0;
}

/** A kept-alive connection with every request answered and nothing arriving: closing it loses no request. */
function isIdle(socket: Socket): boolean {
  const connection = counted.get(socket);
  return connection !== undefined && connection.answeredOnce && connection.unanswered === 0 && !requestArriving(socket);
}

type GuardConfig = Pick<Config, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'MAX_CONNECTIONS' | 'MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP' | 'TRUST_PROXY'>;

/** Open unauthenticated connections per client IP, capped. */
class ClientCounts {
  /** Each client IP's counted connections, oldest first. */
  private readonly open = new Map<string, Set<Socket>>();

  constructor(private readonly max: number) {}

  /**
   * Counts `socket` for `client` until it closes or authenticates. At the cap, the client's longest-open idle
   * connection is closed to make room; false (nothing counted) when none is idle.
   */
  admit(socket: Socket, client: string): boolean {
    if (this.max === 0 || counted.has(socket)) return true;
    const sockets = this.open.get(client) ?? new Set<Socket>();
    if (sockets.size >= this.max && !this.closeOneIdle(client, sockets)) return false;
    sockets.add(socket);
    this.open.set(client, sockets);
    counted.set(socket, { counts: this, client, unanswered: 0, answeredOnce: false });
    socket.once('close', () => connectionAuthenticated(socket));
    return true;
  }

  remove(client: string, socket: Socket): void {
    const sockets = this.open.get(client);
    sockets?.delete(socket);
    if (sockets?.size === 0) this.open.delete(client);
  }

  /** Closes the client's longest-open idle connection (at the cap only, so the walk is rare and short). */
  private closeOneIdle(client: string, sockets: Set<Socket>): boolean {
    for (const socket of sockets) {
      if (!isIdle(socket)) continue;
      counted.delete(socket);
      this.remove(client, socket);
      socket.destroy();
      return true;
    }
    return false;
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

/** A request has begun on the connection: it is not idle until that request is answered. */
function requestBegan(socket: Socket): void {
  const connection = counted.get(socket);
  if (connection) connection.unanswered++;
}

/** A request on the connection was answered (by whatever route, authenticated or not: it still counts). */
function requestAnswered(socket: Socket): void {
  const connection = counted.get(socket);
  if (!connection) return;
  connection.unanswered = Math.max(0, connection.unanswered - 1);
  connection.answeredOnce = true;
}

export interface ConnectionGuardHooks {
  /**
   * For every request: marks its connection busy, and caps WebSocket upgrades forwarded by a trusted proxy per
   * client IP (429). Added after @fastify/websocket's own onRequest hook, which marks an upgrade so that a refused
   * one's socket is closed.
   */
  onRequest: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** For every response: its connection may be idle now. */
  onResponse: (request: FastifyRequest) => Promise<void>;
}

/** Installs the limits on `server` and returns the hooks that keep the per-client-IP counts. */
export function installConnectionGuard(server: Server, config: GuardConfig): ConnectionGuardHooks {
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
  return {
    onRequest: async (request, reply) => {
      const socket = request.raw.socket;
      requestBegan(socket);
      if (request.headers.upgrade === undefined || !socket.remoteAddress || !isProxy(socket.remoteAddress)) return;
      if (counts.admit(socket, request.ip)) return;
      request.log.warn('refused a WebSocket upgrade: too many unauthenticated connections from this client IP');
      await reply.status(429).send({ error: { code: 'PARLEY_ERR_RATE_LIMITED', message: 'Too many unauthenticated connections from this address' } });
    },
    onResponse: async (request) => requestAnswered(request.raw.socket),
  };
}
