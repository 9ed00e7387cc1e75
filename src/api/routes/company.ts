/**
 * The authenticated company's own settings: profile, webhook URL and events, webhook secret rotation, and the
 * monthly budget (src/usage/budget.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getCompany, getWebhookSecret, rotateWebhookSecret, setMonthlyBudget, updateWebhookSettings } from '../../db/companies.js';
import type { BudgetCheck } from '../../usage/budget.js';
import { generateWebhookSecret } from '../../webhooks/signing.js';
import type { RootSql } from '../../db/sql.js';
import { badRequest, notFound } from '../../errors.js';
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/emit.js';
import { Timestamp, Uuid, errors } from '../schemas.js';


export const CompanySchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  webhook_url: Type.Union([Type.String(), Type.Null()]),
  webhook_events: Type.Array(Type.String(), { description: 'Event types delivered; empty = all' }),
  is_active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const MonthlyBudgetBody = Type.Object(
  {
    monthly_budget: Type.Unsafe<number | null>({
      type: ['number', 'null'], minimum: 0, maximum: 999_999_999_999,
      description: 'Monthly spending cap in the server\'s price currency (UTC calendar months, usage priced as in GET /v1/usage); null = none. Once reached, new calls are refused (409 PARLEY_ERR_BUDGET_EXHAUSTED) until the month ends.',
    }),
  },
  { additionalProperties: false },
);

/**
 * The budget as it will be stored (numeric(14, 2)): a value with more than two decimals is refused, not rounded —
 * 0.004 would have become 0, an exhausted budget that refuses every call.
 */
export function monthlyBudgetOf(body: Static<typeof MonthlyBudgetBody>): number | null {
  const v = body.monthly_budget;
  if (v !== null && Math.round(v * 100) / 100 !== v) {
    throw badRequest('monthly_budget has at most two decimals (it is an amount of money)', { field: 'body.monthly_budget' });
  }
  return v;
}

export const BudgetStatusSchema = Type.Object({
  monthly_budget: Type.Union([Type.Number(), Type.Null()]),
  month: Type.String({ description: 'The current UTC month, YYYY-MM' }),
  spent: Type.Number({ description: 'Cost of the month so far, at the prices configured now' }),
  currency: Type.String(),
  exhausted: Type.Boolean({ description: 'New calls are refused: outbound, web-call tokens, campaign dials (deferred), inbound (a short notice, then hang-up)' }),
  resets_at: Timestamp,
});

const WebhookUrl = Type.Union([Type.String({ format: 'uri', maxLength: 2000 }), Type.Null()], { description: 'https URL, or null to stop deliveries' });
const WebhookEvents = Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((e) => Type.Literal(e))), { uniqueItems: true, description: 'Event types to deliver; empty = all' });
/** PUT: the whole setting — the URL, and the events (omitted = all). */
const WebhookSettingsBody = Type.Object({ url: WebhookUrl, events: Type.Optional(WebhookEvents) }, { additionalProperties: false });
/** PATCH: what is given changes, the rest stays. */
const WebhookSettingsPatch = Type.Object({ url: Type.Optional(WebhookUrl), events: Type.Optional(WebhookEvents) }, { additionalProperties: false });

export interface CompanyRouteDeps {
  sql: RootSql;
  /** Throws ParleyError PARLEY_ERR_UNSAFE_URL for URLs deliveries must not be aimed at. */
  validateWebhookUrl: (url: string) => Promise<void>;
  /** How long the previous secret keeps signing after a rotation. */
  secretOverlapSec: number;
  /** The monthly budget check (its status is what GET /company/budget shows). */
  budget: BudgetCheck;
}

export function companyRoutes(deps: CompanyRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/company', {
      // The record carries the webhook URL and events: company settings, not for every key.
      config: { scope: 'settings:read' },
      schema: { tags: ['company'], summary: 'The company this API key belongs to, with its webhook settings', response: { 200: CompanySchema, ...errors(401, 403) } },
    }, async (request) => {
      const company = await getCompany(deps.sql, request.auth.companyId);
      if (!company) throw notFound('Company');
      return company;
    });

    const budgetStatus = async (companyId: string) => {
      // The month's cost is shown with or without a budget (the call path skips it when there is none).
      const s = await deps.budget.status(companyId, { fresh: true, costWithoutBudget: true });
      return { monthly_budget: s.budget, month: s.month, spent: s.spent, currency: s.currency, exhausted: s.exhausted, resets_at: s.resets_at };
    };
    app.get('/company/budget', {
      config: { scope: 'settings:read' },
      schema: { tags: ['company'], summary: 'The monthly budget and what the month has cost so far', response: { 200: BudgetStatusSchema, ...errors(401, 403) } },
    }, async (request) => budgetStatus(request.auth.companyId));

    app.put('/company/budget', {
      config: { scope: 'settings:write' },
      schema: { tags: ['company'], summary: 'Set (or clear, with null) the monthly budget', body: MonthlyBudgetBody, response: { 200: BudgetStatusSchema, ...errors(400, 401, 403) } },
    }, async (request) => {
      const budget = monthlyBudgetOf(request.body as Static<typeof MonthlyBudgetBody>);
      if (!(await setMonthlyBudget(deps.sql, request.auth.companyId, budget))) throw notFound('Company');
      return budgetStatus(request.auth.companyId);
    });

    const setWebhook = async (companyId: string, settings: { url?: string | null; events?: string[] }) => {
      if (settings.url) await deps.validateWebhookUrl(settings.url);
      const company = await updateWebhookSettings(deps.sql, companyId, settings);
      if (!company) throw notFound('Company');
      return company;
    };
    app.put('/company/webhook', {
      config: { scope: 'settings:write' },
      schema: {
        tags: ['company'], summary: 'Set the webhook: its URL, and the events to deliver (omitted = all)',
        body: WebhookSettingsBody, response: { 200: CompanySchema, ...errors(400, 401, 403) },
      },
    }, async (request) => {
      const body = request.body as Static<typeof WebhookSettingsBody>;
      return setWebhook(request.auth.companyId, { url: body.url, events: body.events ?? [] });
    });
    app.patch('/company/webhook', {
      config: { scope: 'settings:write' },
      schema: {
        tags: ['company'], summary: 'Change the webhook URL or its events; what is not given stays',
        body: WebhookSettingsPatch, response: { 200: CompanySchema, ...errors(400, 401, 403) },
      },
    }, async (request) => {
      const body = request.body as Static<typeof WebhookSettingsPatch>;
      return setWebhook(request.auth.companyId, {
        ...(body.url !== undefined ? { url: body.url } : {}),
        ...(body.events !== undefined ? { events: body.events } : {}),
      });
    });

    const SecretResponse = Type.Object({
      secret: Type.String({ description: 'Standard Webhooks secret (whsec_…)' }),
      previous_secret_expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'While secrets being rotated out still sign (each with its own signature): when the last of them stops' })),
    });
    app.get('/company/webhook/secret', {
      config: { scope: 'settings:write' },
      schema: { tags: ['company'], summary: 'The current webhook signing secret', response: { 200: SecretResponse, ...errors(401, 403) } },
    }, async (request) => {
      const current = await getWebhookSecret(deps.sql, request.auth.companyId);
      if (!current) throw notFound('Company');
      return { secret: current.secret, ...(current.previousExpiresAt ? { previous_secret_expires_at: current.previousExpiresAt } : {}) };
    });

    app.post('/company/webhook/rotate-secret', {
      config: { scope: 'settings:write' },
      schema: {
        tags: ['company'], summary: 'Rotate the webhook secret; the previous one keeps signing during an overlap',
        response: { 200: SecretResponse, ...errors(401, 403) },
      },
    }, async (request) => {
      const r = await rotateWebhookSecret(deps.sql, request.auth.companyId, generateWebhookSecret(), deps.secretOverlapSec);
      if (!r) throw notFound('Company');
      return { secret: r.secret, previous_secret_expires_at: r.previousExpiresAt };
    });
  };
}
