/**
 * The company's own routes under /v1 that need only the database and the config: its record, keys, bots,
 * calls (and their recordings), analytics, audit log, usage and budget, privacy and export. The composition root (server.ts) lists them with the
 * feature routes it builds from services (bookings, knowledge, web calls, outbound calls, campaigns, webhooks):
 * every route the server serves is registered from that one list. Tests reuse this part of it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../config.js';
import type { RootSql } from '../../db/sql.js';
import { pricesFrom } from '../../usage/prices.js';
import { BudgetGuard, type BudgetCheck } from '../../usage/budget.js';
import { recordingServices, type RecordingServices } from '../../recordings/settings.js';
import { analyticsRoutes } from './analytics.js';
import { apiKeyRoutes } from './api-keys.js';
import { auditLogRoutes } from './audit-log.js';
import { botRoutes } from './bots.js';
import { callRoutes } from './calls.js';
import { companyRoutes } from './company.js';
import { exportRoutes } from './export.js';
import { privacyRoutes } from './privacy.js';
import { recordingRoutes } from './recordings.js';
import { usageRoutes } from './usage.js';

export interface AccountRouteDeps {
  sql: RootSql;
  config: Config;
  /** Checks a webhook URL before it is saved; throws ParleyError PARLEY_ERR_UNSAFE_URL. */
  validateWebhookUrl: (url: string) => Promise<void>;
  /** The server's budget check (one cache for every path); default: one of its own at the configured prices. */
  budget?: BudgetCheck;
  /** The server's recording services; default: built from the config. */
  recordings?: RecordingServices;
}

export function accountRoutes(deps: AccountRouteDeps): FastifyPluginAsync[] {
  const { sql, config } = deps;
  const budget = deps.budget ?? new BudgetGuard(sql, pricesFrom(config));
  const recordings = deps.recordings ?? recordingServices(config);
  return [
    companyRoutes({ sql, validateWebhookUrl: deps.validateWebhookUrl, secretOverlapSec: 24 * 3600, budget }),
    apiKeyRoutes({ sql, maxPerCompany: config.API_KEYS_MAX_PER_COMPANY }),
    botRoutes({ sql, config }),
    callRoutes({ sql }),
    analyticsRoutes({ sql }),
    auditLogRoutes({ sql }),
    usageRoutes({ sql, prices: pricesFrom(config) }),
    privacyRoutes({ sql, recordings }),
    recordingRoutes({ sql, store: recordings.store, twilio: recordings.twilio }),
    exportRoutes({ sql }),
  ];
}
