/**
 * Bearer authentication. Company routes take an API key (`pk_…`), found by prefix and compared by hash;
 * admin routes take ADMIN_TOKEN. A refused credential is a 401 whose message depends only on what the client sent
 * (no header, a header without `Bearer`, a token not shaped like an API key) and says how to send one; every
 * credential of the right shape that does not open the route gets one message, so a caller learns nothing about
 * which part of it was wrong. A connection that authenticates stops counting against its client IP's cap of unauthenticated
 * connections (connection-guard.ts): it is a known client's now, kept alive or not.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { findKeyByPrefix, touchApiKey } from '../db/api-keys.js';
import type { Db } from '../db/sql.js';
import { connectionAuthenticated } from '../connection-guard.js';
import { ParleyError } from '../errors.js';
import { hashKey, prefixOf, safeEqualHex, safeEqualString } from './keys.js';
import type { SharedCounter } from './rate-limit-store.js';

export interface AuthContext {
  companyId: string;
  keyId: string;
  scopes: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
  interface FastifyContextConfig {
    /** Scope a key needs for this route, e.g. 'bots:write'. Keys with '*' have all scopes. */
    scope?: string;
  }
}

const lacks = (scope: string): ParleyError => new ParleyError('PARLEY_ERR_FORBIDDEN', `This API key lacks the ${scope} scope`);
const unauthorized = (message: string): ParleyError => new ParleyError('PARLEY_ERR_UNAUTHORIZED', message);

/** What a request's authorization header holds: nothing, something other than `Bearer <token>`, or a token. */
type Presented = { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string };

function presented(request: FastifyRequest): Presented {
  const h = request.headers.authorization;
  if (typeof h !== 'string' || h.trim() === '') return { kind: 'none' };
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
  return m ? { kind: 'token', token: m[1]! } : { kind: 'malformed' };
}

const SEND_KEY = 'send it as the header authorization: Bearer pk_…';
const KEY_REFUSED = {
  none: `No API key: ${SEND_KEY}`,
  malformed: `The authorization header must be "Bearer <API key>": ${SEND_KEY}`,
  notAKey: 'That is not an API key (they look like pk_<8 hex>_<43 characters>); the admin token is only for /v1/admin',
  invalid: 'Invalid API key: unknown, revoked or expired',
};

export function hasScope(scopes: string[], needed: string | undefined): boolean {
  if (!needed) return true;
  const [resource] = needed.split(':');
  return scopes.includes('*') || scopes.includes(needed) || scopes.includes(`${resource}:*`);
}

/**
 * For a request that touches more than its route's scope covers (a contact upload that also records consent):
 * the same 403 as the route's own check, unless the key holds `scope` too.
 */
export function requireScope(auth: AuthContext, scope: string): void {
  if (!hasScope(auth.scopes, scope)) throw lacks(scope);
}

/**
 * Whether a key holding `own` may hand out `scope` (to a key it creates) or take it away (by revoking a key that
 * has it): only what it holds itself. `*` only from `*`; a resource wildcard (`bots:*`) only from that wildcard
 * or `*`; `bots:read` from `bots:read`, `bots:*` or `*`.
 */
export function canGrant(own: string[], scope: string): boolean {
  if (own.includes('*')) return true;
  const [resource, action] = scope.split(':');
  if (!resource || !action) return false;
  if (action === '*') return own.includes(scope);
  return hasScope(own, scope);
}

/** The scopes in `wanted` that a key holding `own` may not grant (empty: all grantable). */
export function ungrantable(own: string[], wanted: string[]): string[] {
  return wanted.filter((s) => !canGrant(own, s));
}

export function apiKeyAuth(db: Db) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const sent = presented(request);
    if (sent.kind !== 'token') throw unauthorized(KEY_REFUSED[sent.kind]);
    const key = sent.token;
    const prefix = prefixOf(key);
    if (!prefix) throw unauthorized(KEY_REFUSED.notAKey);
    const row = await findKeyByPrefix(db, prefix);
    if (!row || !safeEqualHex(row.key_hash, hashKey(key)) || !row.usable) throw unauthorized(KEY_REFUSED.invalid);
    // A valid key, whatever its scopes: the client is known.
    connectionAuthenticated(request.raw.socket);
    const needed = request.routeOptions.config.scope;
    if (needed && !hasScope(row.scopes, needed)) throw lacks(needed);
    request.auth = { companyId: row.company_id, keyId: row.id, scopes: row.scopes };
    void touchApiKey(db, row.id).catch((err: unknown) => request.log.warn({ err }, 'could not record key use'));
  };
}

export function adminAuth(adminToken: string) {
  return tokenAuth(adminToken, 'admin token', 'ADMIN_TOKEN, or the file DATA_DIR/admin-token');
}

/**
 * A route guarded by one bearer token (the admin routes, /metrics with METRICS_TOKEN): `what` names the token and
 * `where` says where an operator finds it; any token of the wrong value gets the same 401.
 */
export function tokenAuth(expected: string, what: string, where: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const sent = presented(request);
    if (sent.kind === 'none') throw unauthorized(`No ${what}: send it as the header authorization: Bearer <${what}>`);
    if (sent.kind === 'malformed') throw unauthorized(`The authorization header must be "Bearer <${what}>"`);
    if (!safeEqualString(sent.token, expected)) {
      throw unauthorized(prefixOf(sent.token) ? `An API key does not open this route: send the ${what} (${where})` : `Invalid ${what}`);
    }
    connectionAuthenticated(request.raw.socket);
  };
}

/**
 * Throttles clients that keep failing authentication (wrong API keys, wrong admin token): after `maxFailures`
 * 401s from one client within `windowMs`, every /v1 request from it is answered 429 with Retry-After until the
 * window ends — before any key lookup, so guessing costs neither database work nor yields an answer. Successes
 * do not reset the count (a client holding one valid key could otherwise reset it between guesses).
 *
 * With `shared` (PostgreSQL: several processes and instances), a 401 is counted in the database — the failure path
 * only, one upsert per 401 — and the count it returns is remembered here; every request's check stays a lookup in
 * this process's map. So once a client reaches the limit anywhere, each other process (or one restarted) lets at
 * most one more attempt through: its own 401 meets the shared count and blocks there too. The shared windows are
 * fixed (the clock's minute); the in-memory ones start at a client's first failure. A database that cannot count
 * leaves the 401 a 401: the failure is counted in this process's memory instead (logged once per outage).
 *
 * Memory is bounded: at most `maxClients` entries; when full, expired windows are dropped first (entries are kept
 * in window order, so that is a walk from the front), then the oldest entry. IPv6 clients count per /64, the
 * smallest block a host usually gets, so rotating addresses inside it does not help.
 */
export interface AuthThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxClients?: number;
  now?: () => number;
  /** Counts failures in the database, across processes and instances; unset: in this process's memory only. */
  shared?: SharedCounter;
}

interface FailureWindow {
  failures: number;
  resetAt: number;
}

/** Marks the throttle's rows in rate_limit_counts apart from the rate limit's (company ids). */
const SHARED_KEY_PREFIX = 'auth-failures:';

export class AuthFailureThrottle {
  private readonly clients = new Map<string, FailureWindow>();
  private readonly maxClients: number;
  private readonly now: () => number;
  /** The shared count failed last time: said once, not on every 401 of an outage. */
  private sharedCountFailing = false;

  constructor(private readonly o: AuthThrottleOptions) {
    this.maxClients = o.maxClients ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /** Clients currently tracked (never more than maxClients). */
  get size(): number {
    return this.clients.size;
  }

  /** Milliseconds until `ip` may try again; 0 when it is not throttled. */
  blockedFor(ip: string): number {
    const w = this.clients.get(clientKey(ip));
    if (!w) return 0;
    const left = w.resetAt - this.now();
    return left > 0 && w.failures >= this.o.maxFailures ? left : 0;
  }

  /** Counts a failure in this process's memory. */
  recordFailure(ip: string): void {
    const key = clientKey(ip);
    const now = this.now();
    const w = this.clients.get(key);
    if (w && w.resetAt > now) {
      w.failures++;
      return;
    }
    this.startWindow(key, now, { failures: 1, resetAt: now + this.o.windowMs });
  }

  /** Counts a failure where this throttle counts: in the database when shared (memory when that fails), else memory. */
  private async countFailure(ip: string, log: FastifyBaseLogger): Promise<void> {
    if (!this.o.shared) {
      this.recordFailure(ip);
      return;
    }
    const key = clientKey(ip);
    try {
      const { hits, resetAt } = await this.o.shared(SHARED_KEY_PREFIX + key, this.o.windowMs);
      this.remember(key, hits, resetAt);
      if (this.sharedCountFailing) log.info('failed authentications are counted in the database again');
      this.sharedCountFailing = false;
    } catch (err) {
      if (!this.sharedCountFailing) log.warn({ err }, 'could not count a failed authentication in the database: counting in this process until it can');
      this.sharedCountFailing = true;
      this.recordFailure(ip);
    }
  }

  /**
   * Takes the database's count of `key`'s window. A live count here is kept when higher: answers to concurrent 401s
   * may cross, and failures counted here during an outage are not in the database's.
   */
  private remember(key: string, failures: number, resetAt: number): void {
    const now = this.now();
    if (resetAt <= now) return; // an answer that took past its window's end
    const w = this.clients.get(key);
    if (w && w.resetAt === resetAt) w.failures = Math.max(w.failures, failures);
    else if (w && w.resetAt > now) this.startWindow(key, now, { failures: Math.max(w.failures, failures), resetAt: Math.max(w.resetAt, resetAt) });
    else this.startWindow(key, now, { failures, resetAt });
  }

  /** Puts `key`'s new window at the end of the map (window order), making room first when it is new. */
  private startWindow(key: string, now: number, w: FailureWindow): void {
    if (this.clients.has(key)) this.clients.delete(key);
    else this.makeRoom(now);
    this.clients.set(key, w);
  }

  private makeRoom(now: number): void {
    for (const [key, w] of this.clients) {
      if (this.clients.size < this.maxClients && w.resetAt > now) return;
      this.clients.delete(key);
    }
  }

  /** onRequest: refuse a throttled client before any authentication work. A map lookup: no query. */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const ms = this.blockedFor(request.ip);
    if (ms === 0) return;
    const sec = Math.ceil(ms / 1000);
    reply.header('retry-after', String(sec));
    throw new ParleyError('PARLEY_ERR_RATE_LIMITED', `Too many failed authentications from this address; retry in ${sec} s`);
  };

  /**
   * onSend: every 401 (API key or admin token) counts against the client — before the 401 goes out, so a client
   * that waits for it cannot get its next attempt in ahead of the count. A database count waits at most the
   * handle's query deadline (DATABASE_QUERY_TIMEOUT_MS), then falls back to memory.
   */
  readonly onSend = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (reply.statusCode === 401) await this.countFailure(request.ip, request.log);
  };
}

/** IPv4 (also IPv4-mapped IPv6) as is; IPv6 by its /64 prefix. */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().replace(/%.*$/, '').split('::');
  const h = head ? head.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - (tail ? tail.split(':').length : 0))).fill('0'), ...(tail ? tail.split(':') : [])];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
