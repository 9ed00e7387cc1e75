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
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { apiKeyAuth } from './api/auth.js';
import { installErrorHandler } from './api/error-handler.js';
import { createMetrics, installHttpMetrics, type Metrics } from './api/metrics.js';
import { adminRoutes } from './api/routes/admin.js';
import { apiKeyRoutes } from './api/routes/api-keys.js';
import { botRoutes } from './api/routes/bots.js';
import { callRoutes } from './api/routes/calls.js';
import { companyRoutes } from './api/routes/company.js';
import { ErrorResponse } from './api/schemas.js';
import type { Config } from './config.js';
import { migrationsCurrent } from './db/migrate.js';
import type { RootSql } from './db/sql.js';
import type { Logger } from './log.js';

export interface AppDeps {
  config: Config;
  sql: RootSql;
  log: Logger;
  adminToken: string;
  metrics?: Metrics;
  /** Checks a webhook URL before it is saved; throws ParleyError PARLEY_ERR_UNSAFE_URL. */
  validateWebhookUrl: (url: string) => Promise<void>;
  /** Tenant-scoped /v1 route plugins from feature modules (knowledge, bookings, webhooks…). */
  tenantRoutes?: FastifyPluginAsync[];
  /** Routes outside /v1 (Twilio webhooks and media socket, web calls). */
  publicRoutes?: FastifyPluginAsync[];
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1_048_576,
    trustProxy: true,
    ajv: {
      // Unknown fields are an error, not silently dropped: a typo in a bot config must not vanish.
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  });
  const metrics = deps.metrics ?? createMetrics();
  app.decorate('metrics', metrics);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  installErrorHandler(app);
  installHttpMetrics(app, metrics);
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
  await app.register(formbody);
  await app.register(websocket, { options: { maxPayload: 1_048_576 } });
  await app.register(multipart, { limits: { fileSize: deps.config.UPLOAD_MAX_BYTES, files: 1, fields: 10 } });

  app.get('/healthz', { schema: { hide: true } as object }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } as object }, async (_request, reply) => {
    try {
      const current = await migrationsCurrent(deps.sql);
      if (!current) return reply.status(503).send({ status: 'migrations pending' });
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'database unreachable' });
    }
  });
  app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());

  await app.register(async (v1) => {
    await v1.register(adminRoutes({ sql: deps.sql, adminToken: deps.adminToken }), { prefix: '/admin' });
    await v1.register(async (tenant) => {
      tenant.addHook('onRequest', apiKeyAuth(deps.sql));
      await tenant.register(rateLimit, {
        max: deps.config.RATE_LIMIT_PER_MIN,
        timeWindow: 60_000,
        hook: 'preParsing',
        keyGenerator: (request) => request.auth?.keyId ?? request.ip,
        errorResponseBuilder: (_request, context) => ({
          statusCode: 429,
          error: { code: 'PARLEY_ERR_RATE_LIMITED', message: `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s` },
        }),
      });
      await tenant.register(companyRoutes({ sql: deps.sql, validateWebhookUrl: deps.validateWebhookUrl, secretOverlapSec: 24 * 3600 }));
      await tenant.register(apiKeyRoutes({ sql: deps.sql }));
      await tenant.register(botRoutes({ sql: deps.sql }));
      await tenant.register(callRoutes({ sql: deps.sql }));
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
