/**
 * A full app on a fresh database for route tests: `createCompany()` goes through the admin API, like an operator.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { accountRoutes, type AccountRouteDeps } from '../../src/api/routes/index.js';
import { buildApp } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createTestDb, type TestDatabase } from './db.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghij';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  config: Config;
  createCompany(name?: string): Promise<{ companyId: string; apiKey: string }>;
  /** Headers for a company's API key. */
  as(apiKey: string): { authorization: string };
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  tenantRoutes?: (db: TestDatabase, config: Config) => FastifyPluginAsync[];
  /** Wraps each tenant route plugin, the account routes' included (to see what they register). */
  wrapTenantRoute?: (plugin: FastifyPluginAsync) => FastifyPluginAsync;
  publicRoutes?: (db: TestDatabase, config: Config) => FastifyPluginAsync[];
  validateWebhookUrl?: AccountRouteDeps['validateWebhookUrl'];
  db?: TestDatabase;
  /** Count the rate limit in the database, as the server does on PostgreSQL. */
  sharedRateLimits?: boolean;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await createTestDb());
  const config = testConfig({ ADMIN_TOKEN, ...options.env });
  const app = await buildApp({
    config,
    sql: db.sql,
    log: createLogger('silent'),
    adminToken: ADMIN_TOKEN,
    tenantRoutes: [
      ...accountRoutes({ sql: db.sql, config, validateWebhookUrl: options.validateWebhookUrl ?? (async () => {}) }),
      ...(options.tenantRoutes?.(db, config) ?? []),
    ].map(options.wrapTenantRoute ?? ((plugin) => plugin)),
    publicRoutes: options.publicRoutes?.(db, config) ?? [],
    ...(options.sharedRateLimits ? { sharedRateLimits: true } : {}),
  });
  await app.ready();
  return testAppOn(app, db, config, async () => {
    await app.close();
    if (!options.db) await db.close();
  });
}

/** The TestApp view of an app (built here or by startServer): companies through the admin API, key headers. */
export function testAppOn(app: FastifyInstance, db: TestDatabase, config: Config, close: () => Promise<void>): TestApp {
  let n = 0;
  return {
    app,
    db,
    config,
    async createCompany(name = `Company ${++n}`) {
      const res = await app.inject({ method: 'POST', url: '/v1/admin/companies', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name } });
      if (res.statusCode !== 201) throw new Error(`createCompany failed: ${res.statusCode} ${res.body}`);
      const body = res.json() as { company: { id: string }; api_key: { key: string } };
      return { companyId: body.company.id, apiKey: body.api_key.key };
    },
    as: (apiKey) => ({ authorization: `Bearer ${apiKey}` }),
    close,
  };
}

/** A minimal valid bot body. */
export function botBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Front desk',
    phone_number: null,
    language: 'en',
    config: { greeting: 'Hello, thanks for calling. How can I help?', systemPrompt: 'You are a helpful receptionist.' },
    ...overrides,
  };
}
