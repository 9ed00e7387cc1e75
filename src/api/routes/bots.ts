/** Bots: create, list, get, update, deactivate. A bot's config is validated against BotConfigSchema. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { BotConfigSchema, LanguageSchema, type BotConfig } from '../../bots/config-schema.js';
import { bookingConfigProblems } from '../../bookings/config-schema.js';
import { getBot, insertBot, listBots, updateBot, type BotRow } from '../../db/bots.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError, badRequest, notFound } from '../../errors.js';
import { E164, IdParams, Timestamp, Uuid, errors } from '../schemas.js';

export const BotSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  phone_number: Type.Union([E164, Type.Null()]),
  language: LanguageSchema,
  config: BotConfigSchema,
  is_active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const CreateBotBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    phone_number: Type.Optional(Type.Union([E164, Type.Null()])),
    language: Type.Optional(LanguageSchema),
    config: BotConfigSchema,
  },
  { additionalProperties: false },
);

const UpdateBotBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    phone_number: Type.Optional(Type.Union([E164, Type.Null()])),
    language: Type.Optional(LanguageSchema),
    config: Type.Optional(BotConfigSchema),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** What the JSON Schema cannot say (a real IANA zone, services that exist…), as a 400 naming the field. */
function checkConfig(config: BotConfig | undefined): void {
  if (!config?.booking) return;
  const problems = bookingConfigProblems(config.booking);
  if (problems.length) throw badRequest(`config.booking: ${problems.join('; ')}`, { field: 'body.config.booking' });
}

const toBot = (b: BotRow) => ({
  id: b.id, name: b.name, phone_number: b.phone_number, language: b.language, config: b.config,
  is_active: b.is_active, created_at: b.created_at, updated_at: b.updated_at,
});

/** The unique index on active phone numbers turns a taken number into a clear 409. */
function numberTaken(err: unknown): never {
  if ((err as { code?: string }).code === '23505') {
    throw new ParleyError('PARLEY_ERR_CONFLICT', 'This phone number is already used by another active bot');
  }
  throw err;
}

export function botRoutes(deps: { sql: RootSql }): FastifyPluginAsync {
  return async (app) => {
    app.post('/bots', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Create a bot', body: CreateBotBody, response: { 201: BotSchema, ...errors(400, 401, 403, 409) } },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateBotBody>;
      checkConfig(body.config as BotConfig);
      const bot = await insertBot(deps.sql, {
        companyId: request.auth.companyId, name: body.name, phoneNumber: body.phone_number ?? null,
        language: body.language ?? 'en', config: body.config as BotConfig,
      }).catch(numberTaken);
      return reply.status(201).send(toBot(bot));
    });

    const ListQuery = Type.Object({ include_inactive: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false });
    app.get('/bots', {
      config: { scope: 'bots:read' },
      schema: { tags: ['bots'], summary: 'List bots', querystring: ListQuery, response: { 200: Type.Object({ data: Type.Array(BotSchema) }), ...errors(400, 401) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      return { data: (await listBots(deps.sql, request.auth.companyId, { includeInactive: q.include_inactive ?? false })).map(toBot) };
    });

    app.get('/bots/:id', {
      config: { scope: 'bots:read' },
      schema: { tags: ['bots'], summary: 'Get a bot', params: IdParams, response: { 200: BotSchema, ...errors(400, 401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const bot = await getBot(deps.sql, request.auth.companyId, id);
      if (!bot) throw notFound('Bot');
      return toBot(bot);
    });

    app.patch('/bots/:id', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Update a bot (config is replaced whole)', params: IdParams, body: UpdateBotBody, response: { 200: BotSchema, ...errors(400, 401, 404, 409) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = request.body as Static<typeof UpdateBotBody>;
      checkConfig(body.config as BotConfig | undefined);
      const bot = await updateBot(deps.sql, request.auth.companyId, id, {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.phone_number !== undefined ? { phoneNumber: body.phone_number } : {}),
        ...(body.language !== undefined ? { language: body.language } : {}),
        ...(body.config !== undefined ? { config: body.config as BotConfig } : {}),
        ...(body.is_active !== undefined ? { isActive: body.is_active } : {}),
      }).catch(numberTaken);
      if (!bot) throw notFound('Bot');
      return toBot(bot);
    });

    app.delete('/bots/:id', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Deactivate a bot (its number stops answering; history is kept)', params: IdParams, response: { 200: BotSchema, ...errors(400, 401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const bot = await updateBot(deps.sql, request.auth.companyId, id, { isActive: false });
      if (!bot) throw notFound('Bot');
      return toBot(bot);
    });
  };
}
