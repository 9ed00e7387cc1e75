/** A company's API keys: create (the secret is shown once), list, revoke. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../db/api-keys.js';
import type { RootSql } from '../../db/sql.js';
import { badRequest, notFound } from '../../errors.js';
import { generateApiKey } from '../keys.js';
import { IdParams, Timestamp, Uuid, errors } from '../schemas.js';

export const SCOPES = ['*', 'bots:read', 'bots:write', 'calls:read', 'calls:write', 'knowledge:read', 'knowledge:write', 'bookings:read', 'bookings:write', 'webhooks:read', 'webhooks:write', 'settings:write', 'keys:write'] as const;

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
    name: Type.String({ minLength: 1, maxLength: 100 }),
    scopes: Type.Optional(Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true, default: ['*'] })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export function apiKeyRoutes(deps: { sql: RootSql }): FastifyPluginAsync {
  return async (app) => {
    app.post('/api-keys', {
      config: { scope: 'keys:write' },
      schema: { tags: ['api-keys'], summary: 'Create an API key (the key is shown once)', body: CreateKeyBody, response: { 201: CreatedApiKeySchema, ...errors(400, 401, 403) } },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateKeyBody>;
      const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw badRequest('expires_at must be in the future', { field: 'body.expires_at' });
      const k = generateApiKey();
      const row = await insertApiKey(deps.sql, { companyId: request.auth.companyId, name: body.name, prefix: k.prefix, hash: k.hash, scopes: body.scopes ?? ['*'], expiresAt });
      return reply.status(201).send({ ...toApiKey(row), key: k.key });
    });

    app.get('/api-keys', {
      schema: { tags: ['api-keys'], summary: 'List API keys (never their secrets)', response: { 200: Type.Object({ data: Type.Array(ApiKeySchema) }), ...errors(401) } },
    }, async (request) => ({ data: (await listApiKeys(deps.sql, request.auth.companyId)).map(toApiKey) }));

    app.delete('/api-keys/:id', {
      config: { scope: 'keys:write' },
      schema: { tags: ['api-keys'], summary: 'Revoke an API key', params: IdParams, response: { 200: ApiKeySchema, ...errors(401, 403, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const row = await revokeApiKey(deps.sql, request.auth.companyId, id);
      if (!row) throw notFound('API key');
      return toApiKey(row);
    });
  };
}
