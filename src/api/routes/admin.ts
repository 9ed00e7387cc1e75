/**
 * Operator routes (ADMIN_TOKEN): create a company with its first API key; list and disable companies; see, assign
 * and release phone numbers (a number belongs to one company until the operator — or that company — releases it).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { endLiveCallsOfCompany } from '../../call/lifecycle.js';
import { getCompany, insertCompany, listCompanies, setCompanyActive, setMonthlyBudget } from '../../db/companies.js';
import { generateWebhookSecret } from '../../webhooks/signing.js';
import { assignNumber, getNumber, listNumbers, releaseNumber, type PhoneNumberRow } from '../../db/phone-numbers.js';
import type { RootSql } from '../../db/sql.js';
import { conflict, notFound } from '../../errors.js';
import { adminAuth } from '../auth.js';
import { issueApiKey } from '../keys.js';
import { CreatedApiKeySchema, toApiKey } from './api-keys.js';
import { CompanySchema, MonthlyBudgetBody, monthlyBudgetOf } from './company.js';
import { NumberParams } from './bots.js';
import { canonicalPhone } from '../../util/phone.js';
import { E164, IdParams, Label, Page, PageQuery, Timestamp, Uuid, createdKeysetAfter, createdKeysetPage, decodeCursor, encodeCursor, errors } from '../schemas.js';

const CreateCompanyBody = Type.Object(
  { name: Label({ minLength: 1, maxLength: 200 }), key_name: Type.Optional(Label({ minLength: 1, maxLength: 100, default: 'default' })) },
  { additionalProperties: false },
);

const AdminPhoneNumberSchema = Type.Object({
  number: E164,
  company_id: Type.Union([Uuid, Type.Null()], { description: 'The holder; null once released' }),
  claimed_at: Type.Union([Timestamp, Type.Null()]),
  released_at: Type.Union([Timestamp, Type.Null()]),
  active_bot_id: Type.Union([Uuid, Type.Null()], { description: 'The active bot answering the number, if any' }),
});
const toAdminNumber = (p: PhoneNumberRow) => ({
  number: p.number, company_id: p.company_id, claimed_at: p.claimed_at, released_at: p.released_at, active_bot_id: p.active_bot_id,
});

export function adminRoutes(deps: { sql: RootSql; adminToken: string }): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', adminAuth(deps.adminToken));
    const security = [{ adminToken: [] }];

    app.post('/companies', {
      schema: {
        tags: ['admin'], summary: 'Create a company and its first API key (the key is shown once)', security,
        body: CreateCompanyBody,
        response: { 201: Type.Object({ company: CompanySchema, api_key: CreatedApiKeySchema }), ...errors(400, 401) },
      },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateCompanyBody>;
      const result = await deps.sql.begin(async (tx) => {
        const company = await insertCompany(tx, body.name, generateWebhookSecret());
        const { row, key } = await issueApiKey(tx, { companyId: company.id, name: body.key_name ?? 'default', scopes: ['*'], expiresAt: null });
        return { company, api_key: { ...toApiKey(row), key } };
      });
      return reply.status(201).send(result);
    });

    app.get('/companies', {
      schema: {
        tags: ['admin'], summary: 'List companies, newest first', security,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(CompanySchema), ...errors(400, 401) },
      },
    }, async (request) => {
      const q = request.query as { limit?: number; cursor?: string };
      const limit = q.limit ?? 50;
      const rows = await listCompanies(deps.sql, { limit: limit + 1, after: createdKeysetAfter('admin_companies', q.cursor) });
      const { page, next_cursor } = createdKeysetPage('admin_companies', rows, limit);
      return { data: page, next_cursor };
    });

    app.get('/companies/:id', {
      schema: { tags: ['admin'], summary: 'Get a company', security, params: IdParams, response: { 200: CompanySchema, ...errors(401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const company = await getCompany(deps.sql, id);
      if (!company) throw notFound('Company');
      return company;
    });

    const ActiveBody = Type.Object({ is_active: Type.Boolean() }, { additionalProperties: false });
    app.patch('/companies/:id', {
      schema: {
        tags: ['admin'], summary: 'Disable or re-enable a company (its keys stop working while disabled)', security,
        params: IdParams, body: ActiveBody, response: { 200: CompanySchema, ...errors(400, 401, 404) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const active = (request.body as Static<typeof ActiveBody>).is_active;
      const company = await deps.sql.begin(async (tx) => {
        const row = await setCompanyActive(tx, id, active);
        // Disabled: its calls under way end too (lifecycle.ts endLiveCallsOfCompany).
        if (row && !active) await endLiveCallsOfCompany(tx, id);
        return row;
      });
      if (!company) throw notFound('Company');
      return company;
    });

    app.put('/companies/:id/budget', {
      schema: {
        tags: ['admin'], summary: 'Set (or clear, with null) a company\'s monthly budget; the company sees and may change it at /v1/company/budget', security,
        params: IdParams, body: MonthlyBudgetBody,
        response: { 200: Type.Object({ company_id: Uuid, monthly_budget: Type.Union([Type.Number(), Type.Null()]) }), ...errors(400, 401, 404) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const row = await setMonthlyBudget(deps.sql, id, monthlyBudgetOf(request.body as Static<typeof MonthlyBudgetBody>));
      if (!row) throw notFound('Company');
      return { company_id: id, monthly_budget: row.monthly_budget };
    });

    const NumbersQuery = Type.Object(
      {
        ...PageQuery,
        company_id: Type.Optional(Uuid),
        include_released: Type.Optional(Type.Boolean({ default: false })),
      },
      { additionalProperties: false },
    );
    app.get('/phone-numbers', {
      schema: {
        tags: ['admin'], summary: 'List phone numbers and who holds them, by number', security,
        querystring: NumbersQuery, response: { 200: Page(AdminPhoneNumberSchema), ...errors(400, 401) },
      },
    }, async (request) => {
      const q = request.query as Static<typeof NumbersQuery>;
      const limit = q.limit ?? 50;
      const after = q.cursor ? decodeCursor(q.cursor, 'admin_phone_numbers', ['e164'])[0] : undefined;
      const rows = await listNumbers(deps.sql, {
        includeReleased: q.include_released ?? false, limit: limit + 1,
        ...(q.company_id ? { companyId: q.company_id } : {}), ...(after ? { cursor: after } : {}),
      });
      const page = rows.slice(0, limit);
      return { data: page.map(toAdminNumber), next_cursor: rows.length > limit ? encodeCursor('admin_phone_numbers', [page.at(-1)!.number]) : null };
    });

    const AssignBody = Type.Object({ company_id: Uuid }, { additionalProperties: false });
    app.put('/phone-numbers/:number', {
      schema: {
        tags: ['admin'], summary: 'Assign a number to a company (it must be free or already theirs; release it first to move it)', security,
        params: NumberParams, body: AssignBody, response: { 200: AdminPhoneNumberSchema, ...errors(400, 401, 404, 409) },
      },
    }, async (request) => {
      const number = canonicalPhone((request.params as Static<typeof NumberParams>).number);
      const { company_id: companyId } = request.body as Static<typeof AssignBody>;
      if (!(await getCompany(deps.sql, companyId))) throw notFound('Company');
      const r = await assignNumber(deps.sql, companyId, number);
      if (!r.ok) throw conflict(`This number is held by company ${r.heldBy}; release it first`, { company_id: r.heldBy });
      return toAdminNumber((await getNumber(deps.sql, number))!);
    });

    app.delete('/phone-numbers/:number', {
      schema: {
        tags: ['admin'],
        summary: 'Release a number: it stops answering for its holder (their active bot keeps running without a number) and any company may claim it',
        security, params: NumberParams,
        response: { 200: Type.Intersect([AdminPhoneNumberSchema, Type.Object({ detached_bot_ids: Type.Array(Uuid) })]), ...errors(400, 401, 404) },
      },
    }, async (request) => {
      const number = canonicalPhone((request.params as Static<typeof NumberParams>).number);
      const r = await releaseNumber(deps.sql, number, { detachActiveBots: true });
      if (r.status !== 'released') throw notFound('Phone number');
      return { ...toAdminNumber(r.row), detached_bot_ids: r.detachedBotIds };
    });
  };
}
