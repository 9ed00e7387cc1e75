/** Operator routes (ADMIN_TOKEN): create a company with its first API key; list and disable companies. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { insertApiKey } from '../../db/api-keys.js';
import { getCompany, insertCompany, listCompanies, setCompanyActive } from '../../db/companies.js';
import type { RootSql } from '../../db/sql.js';
import { notFound } from '../../errors.js';
import { adminAuth } from '../auth.js';
import { generateApiKey } from '../keys.js';
import { CreatedApiKeySchema, toApiKey } from './api-keys.js';
import { CompanySchema } from './company.js';
import { IdParams, Page, PageQuery, decodeCursor, encodeCursor, errors } from '../schemas.js';

const CreateCompanyBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), key_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, default: 'default' })) },
  { additionalProperties: false },
);

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
        const company = await insertCompany(tx, body.name);
        const k = generateApiKey();
        const row = await insertApiKey(tx, { companyId: company.id, name: body.key_name ?? 'default', prefix: k.prefix, hash: k.hash, scopes: ['*'], expiresAt: null });
        return { company, api_key: { ...toApiKey(row), key: k.key } };
      });
      return reply.status(201).send(result);
    });

    app.get('/companies', {
      schema: {
        tags: ['admin'], summary: 'List companies', security,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(CompanySchema), ...errors(400, 401) },
      },
    }, async (request) => {
      const q = request.query as { limit?: number; cursor?: string };
      const limit = q.limit ?? 50;
      const after = q.cursor ? decodeCursor(q.cursor)?.[0] : undefined;
      const rows = await listCompanies(deps.sql, { limit: limit + 1, ...(typeof after === 'string' ? { cursor: after } : {}) });
      const page = rows.slice(0, limit);
      return { data: page, next_cursor: rows.length > limit ? encodeCursor([page.at(-1)!.id]) : null };
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
      const company = await setCompanyActive(deps.sql, id, (request.body as Static<typeof ActiveBody>).is_active);
      if (!company) throw notFound('Company');
      return company;
    });
  };
}
