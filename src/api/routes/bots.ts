/**
 * Bots: create, list, get, update, deactivate. A bot's config is validated against BotConfigSchema. A bot's number
 * must be held by its company (phone_numbers): a free number is claimed on first use, another company's never.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { BotConfigSchema, LanguageSchema, type BotConfig } from '../../bots/config-schema.js';
import { bookingConfigProblems } from '../../bookings/config-schema.js';
import { canonicalZone } from '../../util/time-zone.js';
import { extractionSchemaProblem } from '../../outcomes/response-schema.js';
import { botWarnings, localSpeechStatus, type BotWarning } from '../../bots/capabilities.js';
import { providerProblem } from '../../bots/provider-checks.js';
import type { Config } from '../../config.js';
import { countBots, getBot, getBotForUpdate, insertBot, listBots, updateBot, type BotRow } from '../../db/bots.js';
import { NUMBER_HELD_CONSTRAINT, claimNumber, listNumbers, releaseNumber, type PhoneNumberRow } from '../../db/phone-numbers.js';
import type { Db, RootSql } from '../../db/sql.js';
import { badRequest, conflict, notFound } from '../../errors.js';
import { E164, IdParams, Label, PageQuery, Page, Timestamp, Uuid, createdKeysetAfter, createdKeysetPage, decodeCursor, encodeCursor, errors } from '../schemas.js';
import { assertBotVersion, botVersion } from '../bot-version.js';
import { transferTargetRefusal } from '../../telephony/transfer-target.js';
import { allowedPrefixesOf, transferRefusal, type TransferPolicy } from '../../telephony/dial-policy.js';
import { canonicalPhone } from '../../util/phone.js';

export const BotSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  phone_number: Type.Union([E164, Type.Null()]),
  language: LanguageSchema,
  config: BotConfigSchema,
  is_active: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  warnings: Type.Optional(Type.Array(Type.Object({
    capability: Type.Union([Type.Literal('recognizer'), Type.Literal('voice'), Type.Literal('llm'), Type.Literal('embedder')]),
    message: Type.String(),
    fix: Type.String(),
  }), { description: 'Capabilities this bot lacks on this server (no recognizer for its language, no voice, no LLM, only the local embedder) and what fixes each' })),
});

const CreateBotBody = Type.Object(
  {
    name: Label({ minLength: 1, maxLength: 200 }),
    phone_number: Type.Optional(Type.Union([E164, Type.Null()])),
    language: Type.Optional(LanguageSchema),
    config: BotConfigSchema,
  },
  { additionalProperties: false },
);

const UpdateBotBody = Type.Object(
  {
    name: Type.Optional(Label({ minLength: 1, maxLength: 200 })),
    phone_number: Type.Optional(Type.Union([E164, Type.Null()])),
    language: Type.Optional(LanguageSchema),
    config: Type.Optional(BotConfigSchema),
    is_active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

/**
 * The most a bot's config may weigh, as JSON text. Every call, list page and analysis reads it whole; the schema's
 * per-field limits alone allow far more (free-form extraction-schema properties, 200 services with 20 aliases each).
 */
export const MAX_CONFIG_CHARS = 262_144;

/**
 * What the JSON Schema cannot say (a real IANA zone, services that exist…), as a 400 naming the field. The booking
 * zone is then stored in its canonical spelling ("europe/berlin" is kept, and shown, as Europe/Berlin).
 */
function checkConfig(config: BotConfig | undefined, transferPolicy: TransferPolicy): void {
  const chars = config ? JSON.stringify(config).length : 0;
  if (chars > MAX_CONFIG_CHARS) throw badRequest(`config is ${chars} characters as JSON; at most ${MAX_CONFIG_CHARS}`, { field: 'body.config' });
  if (config?.transferNumber) {
    // Stored as the number Twilio dials and reports (+4402079460000 is +442079460000), so it compares to bots' numbers.
    config.transferNumber = canonicalPhone(config.transferNumber);
    const refused = transferRefusal(config.transferNumber, transferPolicy);
    if (refused) throw badRequest(`config.transferNumber: ${refused}`, { field: 'body.config.transferNumber' });
  }
  if (config?.booking) {
    const problems = bookingConfigProblems(config.booking);
    if (problems.length) throw badRequest(`config.booking: ${problems.join('; ')}`, { field: 'body.config.booking' });
    config.booking.timezone = canonicalZone(config.booking.timezone) ?? config.booking.timezone;
  }
  // Post-call analysis compiles this JSON Schema: one that cannot compile is refused now, not at every call's end.
  const extraction = config?.outcomes?.extractionSchema as Record<string, unknown> | undefined;
  const problem = extraction ? extractionSchemaProblem(extraction) : null;
  if (problem) throw badRequest(`config.outcomes.extractionSchema is not a usable JSON Schema: ${problem}`, { field: 'body.config.outcomes.extractionSchema' });
}

/** A transfer number the bot may not ring (transfer-target.ts), refused with a 400. In the bot's transaction, after its number is held. */
async function checkTransferTarget(tx: Db, companyId: string, botId: string | null, botNumber: string | null, config: BotConfig): Promise<void> {
  const to = config.transferNumber;
  if (!to) return;
  const refused = await transferTargetRefusal(tx, { companyId, botId, botNumbers: [botNumber] }, to);
  if (refused === 'own_number') throw badRequest('config.transferNumber is this bot\'s own phone number: a transfer would ring the same bot', { field: 'body.config.transferNumber' });
  if (refused === 'another_company') throw badRequest('config.transferNumber is a number this server answers for another company', { field: 'body.config.transferNumber' });
}

const toBot = (b: BotRow) => ({
  id: b.id, name: b.name, phone_number: b.phone_number, language: b.language, config: b.config,
  is_active: b.is_active, created_at: b.created_at, updated_at: b.updated_at,
});

/**
 * The one answer for a number the company does not hold and cannot claim — whoever holds it — so a tenant cannot
 * probe which numbers other tenants use. Exported for tests and docs.
 */
export const NUMBER_UNAVAILABLE_MESSAGE = 'This phone number is not available to your company; ask the server operator to assign it';
const numberUnavailable = () => conflict(NUMBER_UNAVAILABLE_MESSAGE, { field: 'body.phone_number' });

/**
 * Database refusals about numbers, as clear 409s. The number is the company's own by then (claimed in the same
 * transaction), so the unique index on active numbers can only name another bot of the same company; the
 * ownership foreign key only fires if the operator released the number in between.
 */
function numberError(err: unknown): never {
  const e = err as { code?: string; constraint_name?: string };
  if (e.code === '23505') throw conflict('This phone number is already used by another active bot of your company; deactivate that bot or change its number first', { field: 'body.phone_number' });
  if (e.code === '23503' && e.constraint_name === NUMBER_HELD_CONSTRAINT) throw numberUnavailable();
  throw err;
}

/** The company holds the number after this (claimed on first use if free), or the request is refused. */
async function holdNumber(tx: Db, companyId: string, number: string): Promise<void> {
  if (!(await claimNumber(tx, companyId, number))) throw numberUnavailable();
}

export const PhoneNumberSchema = Type.Object({
  number: E164,
  claimed_at: Timestamp,
  active_bot_id: Type.Union([Uuid, Type.Null()], { description: 'The active bot answering this number, if any' }),
});
const toPhoneNumber = (p: PhoneNumberRow) => ({ number: p.number, claimed_at: p.claimed_at!, active_bot_id: p.active_bot_id });
export const NumberParams = Type.Object({ number: E164 });

export function botRoutes(deps: { sql: RootSql; config?: Partial<Config> }): FastifyPluginAsync {
  const transferPolicy: TransferPolicy = {
    allowedPrefixes: allowedPrefixesOf(deps.config?.OUTBOUND_ALLOWED_PREFIXES), allowPremiumRate: deps.config?.OUTBOUND_ALLOW_PREMIUM_RATE ?? false,
  };
  const maxBots = deps.config?.BOTS_MAX_PER_COMPANY ?? 500;
  const keys = {
    DEEPGRAM_API_KEY: deps.config?.DEEPGRAM_API_KEY, OPENAI_API_KEY: deps.config?.OPENAI_API_KEY,
    ANTHROPIC_API_KEY: deps.config?.ANTHROPIC_API_KEY, CARTESIA_API_KEY: deps.config?.CARTESIA_API_KEY,
    DEFAULT_STT: deps.config?.DEFAULT_STT, DEFAULT_LLM: deps.config?.DEFAULT_LLM, DEFAULT_TTS: deps.config?.DEFAULT_TTS,
  } as Parameters<typeof botWarnings>[1];
  /** A provider choice that cannot work for the bot (a voice, model or recognizer for its language): a 400. */
  const checkProviders = (bot: { language: 'en' | 'ru'; config: BotConfig }): void => {
    const problem = providerProblem(bot, keys);
    if (problem) throw badRequest(problem.message, { field: problem.field });
  };
  /** The bot as the API shows it, with the capabilities it lacks on this server. */
  const shown = async (b: BotRow): Promise<ReturnType<typeof toBot> & { warnings: BotWarning[] }> =>
    ({ ...toBot(b), warnings: botWarnings(b, keys, await localSpeechStatus()) });
  return async (app) => {
    app.post('/bots', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Create a bot', description: 'A phone_number must be one this company holds; a number nobody holds is claimed for the company. A company has at most BOTS_MAX_PER_COMPANY bots (409 beyond); a config is at most 262,144 characters as JSON.', body: CreateBotBody, response: { 201: BotSchema, ...errors(400, 401, 403, 409) } },
    }, async (request, reply) => {
      const body = request.body as Static<typeof CreateBotBody>;
      checkConfig(body.config as BotConfig, transferPolicy);
      const phoneNumber = body.phone_number ? canonicalPhone(body.phone_number) : null;
      checkProviders({ language: body.language ?? 'en', config: body.config as BotConfig });
      const { companyId } = request.auth;
      const bot = await deps.sql.begin(async (tx) => {
        // Under the company's row lock, so two creates at once cannot both pass the count.
        await tx`select 1 from companies where id = ${companyId} for update`;
        if ((await countBots(tx, companyId)) >= maxBots) {
          throw conflict(`This company has ${maxBots} bots, the most this server allows (BOTS_MAX_PER_COMPANY); change an existing bot instead`);
        }
        if (phoneNumber) await holdNumber(tx, companyId, phoneNumber);
        await checkTransferTarget(tx, companyId, null, phoneNumber, body.config as BotConfig);
        return insertBot(tx, {
          companyId, name: body.name, phoneNumber,
          language: body.language ?? 'en', config: body.config as BotConfig,
        });
      }).catch(numberError);
      return reply.status(201).header('etag', botVersion(toBot(bot))).send(await shown(bot));
    });

    // A page holds whole configs (up to MAX_CONFIG_CHARS each): at most 100 bots.
    const ListQuery = Type.Object({
      include_inactive: Type.Optional(Type.Boolean({ default: false })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
      cursor: PageQuery.cursor,
    }, { additionalProperties: false });
    app.get('/bots', {
      config: { scope: 'bots:read' },
      schema: { tags: ['bots'], summary: 'List bots, newest first', querystring: ListQuery, response: { 200: Page(BotSchema), ...errors(400, 401) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const limit = q.limit ?? 50;
      const rows = await listBots(deps.sql, request.auth.companyId, { includeInactive: q.include_inactive ?? false, limit: limit + 1, after: createdKeysetAfter('bots', q.cursor) });
      const { page, next_cursor } = createdKeysetPage('bots', rows, limit);
      const local = await localSpeechStatus();
      return { data: page.map((b) => ({ ...toBot(b), warnings: botWarnings(b, keys, local) })), next_cursor };
    });

    app.get('/bots/:id', {
      config: { scope: 'bots:read' },
      schema: { tags: ['bots'], summary: 'Get a bot', params: IdParams, response: { 200: BotSchema, ...errors(400, 401, 404) } },
    }, async (request, reply) => {
      const { id } = request.params as Static<typeof IdParams>;
      const bot = await getBot(deps.sql, request.auth.companyId, id);
      if (!bot) throw notFound('Bot');
      void reply.header('etag', botVersion(toBot(bot)));
      return shown(bot);
    });

    app.patch('/bots/:id', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Update a bot (config is replaced whole)', description: 'Send the ETag of the bot you read as If-Match: a bot changed since is 412, nothing saved (config is replaced whole, so two editors would otherwise lose one change). A new phone_number, or reactivating a bot with a number, needs the number held by (or free to claim for) this company.', params: IdParams, body: UpdateBotBody, response: { 200: BotSchema, ...errors(400, 401, 403, 404, 409, 412) } },
    }, async (request, reply) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = request.body as Static<typeof UpdateBotBody>;
      checkConfig(body.config as BotConfig | undefined, transferPolicy);
      const phoneNumber = body.phone_number ? canonicalPhone(body.phone_number) : body.phone_number;
      const { companyId } = request.auth;
      const bot = await deps.sql.begin(async (tx) => {
        const current = await getBotForUpdate(tx, companyId, id);
        if (!current) return undefined;
        // Under the row lock: another save cannot land between this check and this one.
        assertBotVersion(request.headers['if-match'], botVersion(toBot(current)));
        if (body.config !== undefined || body.language !== undefined) {
          checkProviders({ language: body.language ?? current.language, config: (body.config as BotConfig | undefined) ?? current.config });
        }
        // A number the bot takes, or answers again on reactivation, must be the company's (claimed if free). An
        // active bot keeping its number needs no check: the database already ties it to the company.
        const number = phoneNumber !== undefined ? phoneNumber : current.phone_number;
        const active = body.is_active ?? current.is_active;
        if (number && (number !== current.phone_number || (active && !current.is_active))) await holdNumber(tx, companyId, number);
        // Checked when the transfer number or the bot's number changes; a bot saved before keeps its other edits.
        if (body.config !== undefined || phoneNumber !== undefined) await checkTransferTarget(tx, companyId, id, number, (body.config as BotConfig | undefined) ?? current.config);
        return updateBot(tx, companyId, id, {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(phoneNumber !== undefined ? { phoneNumber } : {}),
          ...(body.language !== undefined ? { language: body.language } : {}),
          ...(body.config !== undefined ? { config: body.config as BotConfig } : {}),
          ...(body.is_active !== undefined ? { isActive: body.is_active } : {}),
        });
      }).catch(numberError);
      if (!bot) throw notFound('Bot');
      void reply.header('etag', botVersion(toBot(bot)));
      return shown(bot);
    });

    app.delete('/bots/:id', {
      config: { scope: 'bots:write' },
      schema: { tags: ['bots'], summary: 'Deactivate a bot (its number stops answering but stays the company\'s; history is kept)', params: IdParams, response: { 200: BotSchema, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const bot = await updateBot(deps.sql, request.auth.companyId, id, { isActive: false });
      if (!bot) throw notFound('Bot');
      return shown(bot);
    });

    const NumbersQuery = Type.Object(PageQuery, { additionalProperties: false });
    app.get('/phone-numbers', {
      config: { scope: 'bots:read' },
      schema: {
        tags: ['bots'], summary: 'The phone numbers this company holds (claimed by its bots or assigned by the operator), by number',
        querystring: NumbersQuery, response: { 200: Page(PhoneNumberSchema), ...errors(400, 401, 403) },
      },
    }, async (request) => {
      const q = request.query as Static<typeof NumbersQuery>;
      const limit = q.limit ?? 50;
      const after = q.cursor ? decodeCursor(q.cursor, 'phone_numbers', ['e164'])[0] : undefined;
      const rows = await listNumbers(deps.sql, { companyId: request.auth.companyId, includeReleased: false, limit: limit + 1, ...(after ? { cursor: after } : {}) });
      const page = rows.slice(0, limit);
      return { data: page.map(toPhoneNumber), next_cursor: rows.length > limit ? encodeCursor('phone_numbers', [page.at(-1)!.number]) : null };
    });

    app.delete('/phone-numbers/:number', {
      config: { scope: 'bots:write' },
      schema: {
        tags: ['bots'], summary: 'Release a number this company holds (no active bot may answer it); any company may claim it afterwards',
        params: NumberParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    }, async (request, reply) => {
      const number = canonicalPhone((request.params as Static<typeof NumberParams>).number);
      const r = await releaseNumber(deps.sql, number, { companyId: request.auth.companyId, detachActiveBots: false });
      // A number this company does not hold is not found, whoever holds it (nothing to learn about other tenants).
      if (r.status === 'not_found') throw notFound('Phone number');
      if (r.status === 'in_use') throw conflict(`Active bot ${r.botIds.join(', ')} answers this number; deactivate it or change its number first`, { bot_ids: r.botIds });
      return reply.status(204).send();
    });
  };
}
