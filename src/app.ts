/**
 * buildApp(deps) → a Fastify instance with every route registered, apart from listen() so tests can
 * inject() requests or listen on port 0.
 */
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import { AjvCompiler, type RouteDefinition, type ValidatorFactory } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { AuthFailureThrottle, apiKeyAuth, tokenAuth } from './api/auth.js';
import { installErrorHandler, sendFrameworkError } from './api/error-handler.js';
import { installHealthRoutes, type HealthOptions } from './api/health.js';
import { installRequestGuards } from './api/request-guards.js';
import { lazySerializers, lazyValidators } from './api/lazy-schema-compilers.js';
import { ROUTE_SCOPES } from './api/scopes.js';
import { installConnectionGuard } from './connection-guard.js';
import { createMetrics, installHttpMetrics, type Metrics } from './metrics.js';
import { adminRoutes } from './api/routes/admin.js';
import { installAuditLog } from './audit/hook.js';
import { numberHashKey } from './audit/number-hash.js';
import { ErrorResponse } from './api/schemas.js';
import { trustProxyOption, type Config } from './config.js';
import type { RootSql } from './db/sql.js';
import type { Logger } from './log.js';
import { MAX_SOCKET_PAYLOAD } from './telephony/socket-frames.js';
import { TWILIO_BODY_LIMIT, limitedFormParser } from './telephony/twilio/form-limits.js';
import { databaseCounter, databaseRateLimitStore } from './api/rate-limit-store.js';

export interface AppDeps {
  config: Config;
  sql: RootSql;
  log: Logger;
  adminToken: string;
  metrics?: Metrics;
  /**
   * Every company route under /v1 (behind API-key auth, rate limits and the audit log): the composition root
   * lists them all (api/routes/index.ts accountRoutes, then the feature routes).
   */
  tenantRoutes?: FastifyPluginAsync[];
  /** Routes outside /v1 (Twilio webhooks and media socket, web calls). */
  publicRoutes?: FastifyPluginAsync[];
  /** Database probe timings for /healthz and /readyz (tests shorten them). */
  health?: HealthOptions;
  /**
   * Count the /v1 rate limit and the failed-authentication throttle in the database (api/rate-limit-store.ts), so
   * processes and instances sharing it share each company's budget and each client IP's failures; the server sets
   * it on PostgreSQL. Otherwise each process counts in its own memory.
   */
  sharedRateLimits?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
/**
 * A query (or matrix) parameter name kept in the log: a short identifier. Every name a route declares is one
 * (`limit`, `cursor`, `default_country`…); anything longer or odder may be a value sent without a key.
 */
const PARAM_NAME = /^[A-Za-z0-9_.[\]-]{1,32}$/;
const REDACTED = '[redacted]';

/** The text a URL part stands for (`pk%5F…` is `pk_…`); as it is when its percent-encoding is broken. */
function percentDecoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * A path segment that is (or encodes) a phone number: `+15551234567`, `%2B15551234567`, a long digit run, or one
 * written with spaces, dashes, dots or brackets (`%2B1%20(555)%20123-4567`, refused later but logged first).
 */
const PHONE_SEGMENT = /^\+?[0-9]{7,15}$/;
function isPhoneSegment(seg: string): boolean {
  return PHONE_SEGMENT.test(percentDecoded(seg).replace(/[\s().-]/g, ''));
}
/** Routes whose next path segment is a phone number whatever its shape (erasure, number assignment). */
const PHONE_ROUTE_SEGMENT = 'phone-numbers';

/** The prefixes of secrets the server issues: API keys (api/keys.ts), webhook secrets (webhooks/signing.ts), web-call tokens. */
const SECRET_PREFIX = /(?:^|[^A-Za-z0-9])(?:pk|whsec|wct)_/i;
/** A base64url run as long as a key or token (call tokens, generated secrets); UUIDs (ids in routes) and plain words excepted. */
const LONG_RUN = /[A-Za-z0-9_-]{24,}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WORDS = /^[a-z_-]+$/;

/** Whether a URL part may be a secret: one of the server's prefixes, or a long random-looking run. */
function looksSecret(part: string): boolean {
  const text = percentDecoded(part);
  if (SECRET_PREFIX.test(text)) return true;
  return (text.match(LONG_RUN) ?? []).some((run) => !UUID.test(run) && !WORDS.test(run));
}

/** `name=value` (query or matrix parameter) as logged: never the value; the name when it is a plain short one. */
function redactParam(param: string): string {
  const name = param.split('=', 1)[0]!;
  return PARAM_NAME.test(name) && !looksSecret(name) ? `${name}=${REDACTED}` : REDACTED;
}

/** One path segment as logged; `secret` when it looked like one (the rest of the path is then dropped too). */
function redactSegment(seg: string, previous: string | undefined): { text: string; secret: boolean } {
  const [bare = '', ...matrix] = seg.split(';');
  if (looksSecret(bare)) return { text: REDACTED, secret: true };
  const phone = (previous === PHONE_ROUTE_SEGMENT && bare) || isPhoneSegment(bare);
  return { text: [phone ? '[phone]' : bare, ...matrix.map(redactParam)].join(';'), secret: false };
}

/**
 * The path as logged: phone-number segments replaced (`/v1/privacy/phone-numbers/[phone]`), matrix parameters'
 * values (`;token=…`) replaced, and a segment that looks like a secret (`/v1/bots/pk_…`) replaced together with
 * everything after it — a standard-base64 secret (whsec_…) may hold '/', which would spill its tail into the
 * next segments, and nothing after a secret names a route anyway.
 */
function redactPath(path: string): string {
  const segs = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const { text, secret } = redactSegment(segs[i]!, segs[i - 1]);
    out.push(text);
    if (secret) break;
  }
  return out.join('/');
}

/**
 * A URL as it may be logged: the path redacted (redactPath), and for each query parameter its name (when it is a
 * plain short one) with the value replaced — query values carry phone numbers (`?from=%2B1555…`), tokens and the
 * like, and a bare `?pk_…` is a value sent without a name. A fragment is never kept.
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const fragment = hash < 0 ? '' : `#${REDACTED}`;
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf('?');
  const path = redactPath(q < 0 ? beforeHash : beforeHash.slice(0, q));
  if (q < 0) return path + fragment;
  return `${path}?${beforeHash.slice(q + 1).split('&').map(redactParam).join('&')}${fragment}`;
}

/** pino serializer for `req` in Fastify's request lines. */
function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remotePort?: number } }) {
  return { method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

// Unknown fields are an error, not silently dropped: a typo in a bot config must not vanish.
const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, allErrors: false } as const;
const coercingValidators = AjvCompiler();
const strictValidators = AjvCompiler();

/**
 * Request validation. Query strings, path parameters, headers and Twilio's form posts arrive as text, so their
 * values are coerced to the schema's types ("20" → 20). A JSON body is typed already and is validated as sent:
 * coercing it turned `{"is_active": null}` into false (a bot, or a whole company, switched off) and 12345 into a
 * name.
 */
const buildRequestValidator: ValidatorFactory = (externalSchemas) => {
  const coercing = coercingValidators(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } });
  const strict = strictValidators(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
  return ((route: RouteDefinition) =>
    (route.httpPart === 'body' && !(route.url ?? '').startsWith('/twilio/') ? strict : coercing)(route)) as ReturnType<ValidatorFactory>;
};

/**
 * The errors every /v1 route can answer, in its OpenAPI responses (before @fastify/swagger reads them): 429 (the
 * per-company rate limit), 400 where a path, query or body is validated, 413 where a body is taken, 403 where a
 * scope is needed. A route's own list says the rest.
 */
function documentCommonErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || !route.schema) return;
    const methods = [route.method].flat();
    const response = { ...(route.schema.response as Record<number, unknown> | undefined) };
    const add = (...codes: number[]) => {
      for (const code of codes) response[code] ??= ErrorResponse;
    };
    add(429);
    // A path, query or body that fails its schema (a malformed id) is a 400 wherever one is declared.
    if (route.schema.params || route.schema.querystring || route.schema.body) add(400);
    if (methods.some((m) => m === 'POST' || m === 'PUT' || m === 'PATCH')) add(413);
    if ((route.config as { scope?: string } | undefined)?.scope) add(403);
    route.schema = { ...route.schema, response };
  });
}

/**
 * A request carrying X-Forwarded-For from a peer TRUST_PROXY does not name is counted by that peer's address (rate
 * limits, the authentication throttle): right for a client that sent the header itself, wrong for a load balancer
 * left out of TRUST_PROXY, whose clients would then share one budget. Said once per peer (at most 20), never per
 * request.
 */
function warnOfUntrustedForwarding(app: FastifyInstance): void {
  // An error, not a warning: after the default became loopback-only, a balancer left out of TRUST_PROXY makes every
  // client one address (Twilio's webhooks share its per-IP limit): an operator must see it.
  const warned = new Set<string>();
  app.addHook('onRequest', async (request) => {
    if (warned.size >= 20 || request.headers['x-forwarded-for'] === undefined) return;
    const peer = request.socket.remoteAddress;
    if (!peer || request.ip !== peer || warned.has(peer)) return;
    warned.add(peer);
    request.log.error({ peer }, 'a request carries X-Forwarded-For from a peer TRUST_PROXY does not trust: it is counted by the peer\'s address. If the peer is your load balancer, name it in TRUST_PROXY');
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Request lines carry the path and the query's keys, never its values (phone numbers, web-call tokens…).
    loggerInstance: deps.log.child({}, { serializers: { req: serializeRequest } }) as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1_048_576,
    // Only these peers' X-Forwarded-For is believed: the client IP is what rate limits and auth throttling count by.
    trustProxy: trustProxyOption(deps.config.TRUST_PROXY),
    // Compiled on each route's first use, not at start (lazy-schema-compilers.ts).
    schemaController: { compilersFactory: { buildValidator: lazyValidators(buildRequestValidator), buildSerializer: lazySerializers(SerializerSelector()) } },
    frameworkErrors: sendFrameworkError,
  });
  // Header and request deadlines, MAX_CONNECTIONS and the per-client-IP cap on unauthenticated connections. An
  // answered request authenticates nothing: each authentication (auth.ts, the Twilio signature, the call sockets)
  // takes its connection out of the count; the hooks only tell a stranger's busy connection from an idle one.
  const connectionGuard = installConnectionGuard(app.server, deps.config);
  app.addHook('onResponse', connectionGuard.onResponse);
  const metrics = deps.metrics ?? createMetrics();
  app.decorate('metrics', metrics);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  warnOfUntrustedForwarding(app);

  installErrorHandler(app);
  documentCommonErrors(app);
  installRequestGuards(app);
  installHttpMetrics(app, metrics, deps.config.METRICS_TOKEN ? tokenAuth(deps.config.METRICS_TOKEN, 'metrics token', 'METRICS_TOKEN') : undefined);
  app.addSchema(ErrorResponse);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Parley API', version: '1.0.0', description: 'AI phone agents: companies, bots, calls, knowledge, bookings, webhooks.' },
      servers: [{ url: deps.config.PUBLIC_URL }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'A company API key (pk_…)' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The server ADMIN_TOKEN' },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  // Forms are Twilio's webhooks only: small, few parameters, refused before parsing when not (form-limits.ts).
  await app.register(formbody, { bodyLimit: TWILIO_BODY_LIMIT, parser: limitedFormParser });
  // Frames up to MAX_SOCKET_PAYLOAD reach the socket routes, which count and drop bad ones (oversized, invalid
  // UTF-8 — validated there, not by ws, so it does not close the socket); only a larger frame closes it (1009).
  await app.register(websocket, { options: { maxPayload: MAX_SOCKET_PAYLOAD, skipUTF8Validation: true } });
  // After @fastify/websocket's own onRequest hook, which marks an upgrade so that a refused one's socket is closed.
  app.addHook('onRequest', connectionGuard.onRequest);
  await app.register(multipart, { limits: { fileSize: deps.config.UPLOAD_MAX_BYTES, files: 1, fields: 10 } });

  installHealthRoutes(app, deps.sql, deps.health);
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());

  await app.register(async (v1) => {
    // Before any authentication hook: a client with too many recent 401s gets 429 without a key lookup.
    const authThrottle = new AuthFailureThrottle({
      maxFailures: deps.config.AUTH_FAILURES_PER_MIN,
      windowMs: 60_000,
      ...(deps.sharedRateLimits ? { shared: databaseCounter(deps.sql) } : {}),
    });
    v1.addHook('onRequest', authThrottle.onRequest);
    v1.addHook('onSend', authThrottle.onSend);
    // Every successful change through /v1 (and exports) goes to the append-only audit log.
    installAuditLog(v1, { sql: deps.sql, numberHashKey: numberHashKey(deps.adminToken) });
    await v1.register(adminRoutes({ sql: deps.sql, adminToken: deps.adminToken }), { prefix: '/admin' });
    await v1.register(async (tenant) => {
      // Fail closed: a tenant route that declares no scope would let any valid key through, so it cannot exist.
      // And a scope keys can be given: one outside the list (a typo, a new action not added to it) would open the
      // route to '*' keys only, and a scope added to the list that no route checks would open nothing.
      tenant.addHook('onRoute', (route) => {
        const scope = (route.config as { scope?: string } | undefined)?.scope;
        if (!scope) throw new Error(`${String(route.method)} ${route.url}: a tenant route must declare config.scope`);
        if (!ROUTE_SCOPES.includes(scope)) throw new Error(`${String(route.method)} ${route.url}: scope ${scope} is not one keys can be given (src/api/scopes.ts)`);
      });
      tenant.addHook('onRequest', apiKeyAuth(deps.sql));
      await tenant.register(rateLimit, {
        max: deps.config.RATE_LIMIT_PER_MIN,
        timeWindow: 60_000,
        hook: 'preParsing',
        ...(deps.sharedRateLimits ? { store: databaseRateLimitStore(deps.sql) } : {}),
        // A database that cannot count (an outage) does not also refuse the API: the request meets the outage itself.
        skipOnError: true,
        // Per company, not per key: a company may create as many keys as it likes, and each would be a new budget.
        keyGenerator: (request) => request.auth?.companyId ?? request.ip,
        errorResponseBuilder: (_request, context) => ({
          statusCode: 429,
          error: { code: 'PARLEY_ERR_RATE_LIMITED', message: `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s` },
        }),
      });
      for (const plugin of deps.tenantRoutes ?? []) await tenant.register(plugin);
    });
  }, { prefix: '/v1' });

  for (const plugin of deps.publicRoutes ?? []) await app.register(plugin);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}
