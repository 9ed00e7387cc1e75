/**
 * A company's API keys: create (the secret is shown once), list, revoke. A key hands out only what it holds: it
 * creates keys with a subset of its own scopes, expiring no later than itself, and revokes only keys whose
 * scopes it holds (so a limited key cannot take the company's admin key away).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { getApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../db/api-keys.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError, badRequest, conflict, notFound } from '../../errors.js';
import { ungrantable } from '../auth.js';
import { issueApiKey } from '../keys.js';
import { SCOPES } from '../scopes.js';
import { DateTimeInput, IdParams, Label, Page, PageQuery, Timestamp, Uuid, createdKeysetAfter, createdKeysetPage, errors, parseInstant } from '../schemas.js';

export const ApiKeySchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  prefix: Type.String({ description: 'First characters of the key, to recognise it' }),
  scopes: Type.Array(Type.String()),
  expires_at: Type.Union([Timestamp, Type.Null()]),
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  created_at: Timestamp,
});

export const CreatedApiKeySchema = Type.Intersect([ApiKeySchema, Type.Object({ key: Type.String({ description: 'The secret key. Shown only in this response.' }) })]);

export const toApiKey = (row: ApiKeyRow) => ({
  id: row.id, name: row.name, prefix: row.prefix, scopes: row.scopes,
  expires_at: row.expires_at, last_used_at: row.last_used_at, revoked_at: row.revoked_at, created_at: row.created_at,
});

const CreateKeyBody = Type.Object(
  {
    name: Label({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), {
      minItems: 1, uniqueItems: true,
      description: 'Only scopes the creating key holds (403 otherwise), and only scopes some route checks (400 otherwise: there is no analytics:write); default: the creating key\'s own scopes',
    })),
    expires_at: Type.Optional(DateTimeInput('No later than the creating key\'s expiry; default: that expiry (none if it has none)')),
  },
  { additionalProperties: false },
);

export function apiKeyRoutes(deps: { sql: RootSql; /** API_KEYS_MAX_PER_COMPANY (default 100). */ maxPerCompany?: number }): FastifyPluginAsync {
  const maxKeys = deps.maxPerCompany ?? 100;
  return async (app) => {
    app.post('/api-keys', {
      config: { scope: 'keys:write' },
      schema: { tags: ['api-keys'], summary: 'Create an API key (the key is shown once) with scopes the calling key holds', description: `A company holds at most ${maxKeys} unrevoked keys (API_KEYS_MAX_PER_COMPANY; 409 beyond).`, body: CreateKeyBody, response: { 201: CreatedApiKeySchema, ...errors(400, 401, 403, 409) } },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateKeyBody>;
      const { companyId, keyId, scopes: own } = request.auth;
      const scopes = body.scopes ?? own;
      const denied = ungrantable(own, scopes);
      if (denied.length) {
        throw new ParleyError('PARLEY_ERR_FORBIDDEN', `This API key cannot grant scopes it does not hold: ${denied.join(', ')}`, { field: 'body.scopes', scopes: denied });
      }
      const requested = body.expires_at ? parseInstant(body.expires_at, 'body.expires_at') : null;
      if (requested && requested.getTime() <= Date.now()) throw badRequest('expires_at must be in the future', { field: 'body.expires_at' });
      const limit = (await getApiKey(deps.sql, companyId, keyId))?.expires_at ?? null;
      if (limit && requested && requested > limit) {
        throw new ParleyError('PARLEY_ERR_FORBIDDEN', `A key cannot outlive the key that creates it (${limit.toISOString()})`, { field: 'body.expires_at' });
      }
      const expiresAt = requested ?? limit;
      const { row, key } = await deps.sql.begin(async (tx) => {
        // Under the company's row lock (as bots are counted), so two creates at once cannot both take the last place.
        await tx`select 1 from companies where id = ${companyId} for update`;
        const [held] = await tx<{ n: number }[]>`select count(*)::int as n from api_keys where company_id = ${companyId} and revoked_at is null`;
        if (held!.n >= maxKeys) {
          throw conflict(`This company holds ${maxKeys} API keys, the most this server allows (API_KEYS_MAX_PER_COMPANY); revoke one it no longer uses first`);
        }
        return issueApiKey(tx, { companyId, name: body.name, scopes, expiresAt });
      });
      return reply.status(201).send({ ...toApiKey(row), key });
    });

    const ListQuery = Type.Object(PageQuery, { additionalProperties: false });
    app.get('/api-keys', {
      config: { scope: 'keys:read' },
      schema: { tags: ['api-keys'], summary: 'List API keys, newest first (never their secrets)', querystring: ListQuery, response: { 200: Page(ApiKeySchema), ...errors(400, 401, 403) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const limit = q.limit ?? 50;
      const rows = await listApiKeys(deps.sql, request.auth.companyId, { limit: limit + 1, after: createdKeysetAfter('api_keys', q.cursor) });
      const { page, next_cursor } = createdKeysetPage('api_keys', rows, limit);
      return { data: page.map(toApiKey), next_cursor };
    });

    app.delete('/api-keys/:id', {
      config: { scope: 'keys:write' },
      schema: { tags: ['api-keys'], summary: 'Revoke an API key (only one whose scopes the calling key holds)', params: IdParams, response: { 200: ApiKeySchema, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const { companyId, scopes: own } = request.auth;
      // Scopes never change after creation, so checking before the update is not a race.
      const target = await getApiKey(deps.sql, companyId, id);
      if (!target) throw notFound('API key');
      const denied = ungrantable(own, target.scopes);
      if (denied.length) {
        throw new ParleyError('PARLEY_ERR_FORBIDDEN', `This API key cannot revoke a key with scopes it does not hold: ${denied.join(', ')}`, { scopes: denied });
      }
      const row = await revokeApiKey(deps.sql, companyId, id);
      if (!row) throw notFound('API key');
      return toApiKey(row);
    });
  };
}
