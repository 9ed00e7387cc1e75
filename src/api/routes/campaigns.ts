/**
 * Outbound campaigns (src/campaigns/): campaigns and their state actions, contacts (JSON or CSV), attempts and
 * stats; the company's do-not-call list (JSON or CSV), voice consent per number, and the campaign policy
 * (frequency caps, blocked prefixes). Scopes: campaigns:*, contacts:*, dnc:*.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifySchemaCompiler } from 'fastify';
import { MAX_CSV_BYTES, MAX_ROWS } from '../../campaigns/contacts.js';
import { checkUploadOffLoop, uploadCheckSlots, type ContactsTask, type NumbersTask } from '../../campaigns/upload-check.js';
import {
  CAMPAIGN_STATUSES, campaignStats, getCampaign, insertCampaign, insertContacts, listAttempts, listCampaigns, listContacts,
  transition, updateDraft, type CampaignInput, type CampaignRow, type CampaignStatus, type ContactState,
} from '../../campaigns/repo.js';
import { FINAL_CAMPAIGN_STATUSES, skipWaitingBatch } from '../../campaigns/skip-waiting.js';
import { addDnc, getConsent, getDnc, getPolicy, listDnc, putPolicy, removeDnc, setConsent, setConsents } from '../../campaigns/suppression.js';
import { checkCampaignSettings, editCampaign } from '../../campaigns/settings.js';
import { DEFAULT_WINDOWS } from '../../campaigns/windows.js';
import { auditDetails } from '../../audit/hook.js';
import { SpokenText } from '../../bots/config-schema.js';
import { getBot } from '../../db/bots.js';
import { requireScope, type AuthContext } from '../auth.js';
import { requireOwned } from '../owned.js';
import type { Db, RootSql } from '../../db/sql.js';
import type { TaskSlots } from '../../util/task-slots.js';
import { utf8BodyText } from '../../util/json-body.js';
import { ParleyError, badRequest, conflict, notFound } from '../../errors.js';
import { DateTimeInput, E164, IdParams, Label, Page, PageQuery, Timestamp, Uuid, createdKeysetAfter, createdKeysetPage, decodeCursor, encodeCursor, errors, parseInstant } from '../schemas.js';

export interface CampaignRouteDeps {
  sql: RootSql;
  /** False when Twilio REST credentials are missing: campaigns can be prepared but not scheduled. */
  dialingAvailable: boolean;
  /** Wakes the scheduler (a campaign was scheduled or resumed, contacts were added). */
  onChange?: () => void;
  /** The process's bound on upload checks (UPLOAD_CHECKS_MAX_CONCURRENT); default one per CPU core. */
  uploadChecks?: TaskSlots;
  /** CAMPAIGNS_MAX_OPEN_PER_COMPANY (default 100): campaigns not yet ended. */
  maxOpenPerCompany?: number;
  /** CAMPAIGN_CONTACTS_MAX (default 1,000,000): contacts one campaign holds. */
  maxContacts?: number;
}

const Window = Type.Object({
  days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'ISO weekdays: 1 = Monday … 7 = Sunday' }),
  start: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Local time HH:MM (inclusive)' }),
  end: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Local time HH:MM (exclusive), after start' }),
}, { additionalProperties: false });

/**
 * A campaign's settings. With `defaults` (create and PUT of a draft) an absent setting takes its default; without
 * (PATCH) an absent one is left as it is — ajv fills in defaults, so the edit's schema must name none.
 */
const campaignFields = (defaults: boolean) => {
  const byDefault = <T>(value: T) => (defaults ? { default: value } : {});
  return {
    bot_id: Uuid,
    name: Label({ minLength: 1, maxLength: 200 }),
    starts_at: Type.Optional(Type.Union([DateTimeInput('No dial before; null/absent = as soon as scheduled'), Type.Null()])),
    ends_at: Type.Optional(Type.Union([DateTimeInput('No dial after; contacts still waiting are skipped (campaign_ended)'), Type.Null()])),
    windows: Type.Optional(Type.Array(Window, { minItems: 1, maxItems: 14, description: 'Calling windows in each callee\'s local time (default Mon–Fri 09:00–20:00)' })),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, ...byDefault(3) })),
    retry_spacing_sec: Type.Optional(Type.Integer({ minimum: 60, maximum: 2_592_000, ...byDefault(14_400), description: 'Wait after an unanswered attempt ends' })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, ...byDefault(5), description: 'This campaign\'s calls ringing or live at once' })),
    require_consent: Type.Optional(Type.Boolean({ ...byDefault(false), description: 'Call only numbers whose voice consent is granted' })),
    voicemail: Type.Optional(Type.Union([Type.Literal('leave_message'), Type.Literal('hang_up'), Type.Literal('ignore')], {
      ...byDefault('hang_up'), description: 'leave_message: wait for the beep and speak voicemail_message; hang_up: hang up on a machine; ignore: no detection',
    })),
    voicemail_message: Type.Optional(Type.Union([SpokenText({ minLength: 1, maxLength: 1000, description: 'With {{first_name}}, {{name}} and contact variables' }), Type.Null()])),
    purpose: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 300, description: 'Said to a call-screening assistant: "calling about …"' }), Type.Null()])),
    conversion_outcomes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 60 }), { maxItems: 20, description: 'Call outcome types that count as conversions' })),
  };
};
const CampaignBody = Type.Object(campaignFields(true), { additionalProperties: false });
type CampaignBodyT = Static<typeof CampaignBody>;
const { bot_id: patchBotId, name: patchName, ...patchRest } = campaignFields(false);
const CampaignPatch = Type.Object({ bot_id: Type.Optional(patchBotId), name: Type.Optional(patchName), ...patchRest }, { additionalProperties: false, minProperties: 1 });
type CampaignPatchT = Static<typeof CampaignPatch>;

const Stats = Type.Object({
  targeted: Type.Integer(), dialled: Type.Integer(), answered: Type.Integer(), voicemail: Type.Integer(), completed: Type.Integer(),
  in_progress: Type.Integer(), waiting: Type.Integer(), skipped: Type.Record(Type.String(), Type.Integer()),
  outcomes: Type.Record(Type.String(), Type.Integer()), conversions: Type.Integer(),
});

const CampaignSchema = Type.Object({
  id: Uuid, bot_id: Uuid, name: Type.String(), status: Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s))),
  starts_at: Type.Union([Timestamp, Type.Null()]), ends_at: Type.Union([Timestamp, Type.Null()]), windows: Type.Array(Window),
  max_attempts: Type.Integer(), retry_spacing_sec: Type.Integer(), concurrency: Type.Integer(), require_consent: Type.Boolean(),
  voicemail: Type.String(), voicemail_message: Type.Union([Type.String(), Type.Null()]), purpose: Type.Union([Type.String(), Type.Null()]),
  conversion_outcomes: Type.Array(Type.String()), backoff_until: Type.Union([Timestamp, Type.Null()]), failure_reason: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.Union([Timestamp, Type.Null()]), finished_at: Type.Union([Timestamp, Type.Null()]), created_at: Timestamp, updated_at: Timestamp,
  stats: Type.Optional(Stats),
});

const Consent = Type.Object({
  voice: Type.Union([Type.Literal('granted'), Type.Literal('denied'), Type.Literal('unknown')]),
  source: Type.Optional(Type.String({ maxLength: 200, description: 'Where consent was given (web form, call, paper…)' })),
  recorded_at: Type.Optional(DateTimeInput('When it was given (default now)')),
}, { additionalProperties: false });

const ContactBody = Type.Object({
  phone: Type.String({ minLength: 3, maxLength: 40, description: 'E.164, or national with default_country' }),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  time_zone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA zone; default: the number\'s area code\'s zone where it tells one, else its country\'s (strictest window across several)' })),
  variables: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,39}$' }), Type.String({ maxLength: 200 }), { maxProperties: 20 })),
  consent: Type.Optional(Consent),
}, { additionalProperties: false });

/** The upload thread validates each JSON upload against it (exported for the tests too). */
export const ContactsUpload = Type.Object({
  contacts: Type.Array(ContactBody, { minItems: 1, maxItems: MAX_ROWS }),
  default_country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO country for numbers without +' })),
}, { additionalProperties: false });

const UploadResult = Type.Object({
  received: Type.Integer(), added: Type.Integer(), duplicates: Type.Integer(),
  rejected: Type.Array(Type.Object({ row: Type.Integer(), error: Type.String() }), { description: 'First 100 bad rows (not stored)' }),
  rejected_count: Type.Integer(),
});

const ContactSchema = Type.Object({
  id: Uuid, phone: Type.String(), name: Type.Union([Type.String(), Type.Null()]), time_zone: Type.Union([Type.String(), Type.Null()]),
  variables: Type.Record(Type.String(), Type.String()),
  state: Type.String({ description: 'pending | dialing | live | done | skipped | exhausted' }), attempts: Type.Integer(),
  next_attempt_at: Type.Union([Timestamp, Type.Null()]), last_outcome: Type.Union([Type.String(), Type.Null()]),
  skip_reason: Type.Union([Type.String(), Type.Null()]), deferred_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp, updated_at: Timestamp,
});

const AttemptSchema = Type.Object({
  id: Uuid, contact_id: Uuid, phone: Type.String(), seq: Type.Integer(), call_id: Type.Union([Uuid, Type.Null()]),
  status: Type.String(), counted: Type.Boolean(), local_day: Type.String(), dialed_at: Timestamp,
  answered_by: Type.Union([Type.String(), Type.Null()]), voicemail: Type.Union([Type.String(), Type.Null()]), screened: Type.Boolean(),
  outcome: Type.Union([Type.String(), Type.Null()]), ended_at: Type.Union([Timestamp, Type.Null()]),
});

const DncEntry = Type.Object({ phone: Type.String(), source: Type.String(), reason: Type.Union([Type.String(), Type.Null()]), call_id: Type.Union([Uuid, Type.Null()]), created_at: Timestamp });
export const DncUpload = Type.Object({
  numbers: Type.Array(Type.Object({ phone: Type.String({ minLength: 3, maxLength: 40 }), reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_ROWS }),
  default_country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
}, { additionalProperties: false });
const NumberParams = Type.Object({ number: E164 });
const ConsentSchema = Type.Object({ phone: Type.String(), voice: Type.String(), source: Type.Union([Type.String(), Type.Null()]), recorded_at: Type.Union([Timestamp, Type.Null()]) });
const Policy = Type.Object({
  max_calls_per_day: Type.Integer({ minimum: 1, maximum: 50, description: 'Calls per number per callee-local day, across all campaigns' }),
  max_calls_per_week: Type.Integer({ minimum: 1, maximum: 200, description: 'Calls per number in 7 callee-local days, across all campaigns' }),
  blocked_prefixes: Type.Array(Type.String({ pattern: '^\\+[0-9]{1,14}$' }), { maxItems: 200, uniqueItems: true, description: 'E.164 prefixes never called (e.g. premium-rate ranges)' }),
}, { additionalProperties: false });
const CsvBody = Type.String({ maxLength: MAX_CSV_BYTES, description: 'text/csv with a header line' });

const view = (c: CampaignRow) => {
  const { company_id: _c, dial_failures: _d, ...rest } = c;
  return rest;
};

const instantOrNull = (value: string | null | undefined, field: string): Date | null => (value ? parseInstant(value, field) : null);

function campaignInput(body: CampaignBodyT): CampaignInput {
  const input: CampaignInput = {
    bot_id: body.bot_id, name: body.name, starts_at: instantOrNull(body.starts_at, 'body.starts_at'), ends_at: instantOrNull(body.ends_at, 'body.ends_at'),
    windows: body.windows ?? DEFAULT_WINDOWS, max_attempts: body.max_attempts ?? 3, retry_spacing_sec: body.retry_spacing_sec ?? 14_400,
    concurrency: body.concurrency ?? 5, require_consent: body.require_consent ?? false, voicemail: body.voicemail ?? 'hang_up',
    voicemail_message: body.voicemail_message ?? null, purpose: body.purpose ?? null, conversion_outcomes: body.conversion_outcomes ?? [],
  };
  checkCampaignSettings(input, true);
  return input;
}

/** The settings a PATCH gives, parsed; the absent ones are absent (editCampaign keeps them). */
function campaignPatch(body: CampaignPatchT): Partial<CampaignInput> {
  const { starts_at, ends_at, ...rest } = body;
  return {
    ...(rest as Omit<Partial<CampaignInput>, 'starts_at' | 'ends_at'>),
    ...(starts_at !== undefined ? { starts_at: instantOrNull(starts_at, 'body.starts_at') } : {}),
    ...(ends_at !== undefined ? { ends_at: instantOrNull(ends_at, 'body.ends_at') } : {}),
  };
}

/**
 * For the bulk JSON uploads (MAX_ROWS rows, ~3 MB), in a context of their own: the body is taken as text, to be
 * parsed and validated against the route's schema on the upload's own thread (campaigns/upload-body.ts), not here
 * on the event loop that carries calls. The schema stays on the route for the API document, unvalidated here; path
 * and query are validated as on every route (the parent's compiler). Another content type than JSON is a 415.
 */
function takeJsonBodyAsText(bulk: FastifyInstance, parent: FastifyInstance): void {
  bulk.removeAllContentTypeParsers();
  bulk.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const text = utf8BodyText(body as Buffer);
    if (typeof text === 'string') done(null, text);
    else done(text, undefined);
  });
  const bodyValidatedOffLoop: FastifySchemaCompiler<unknown> = (route) => {
    if (route.httpPart === 'body') return () => true;
    // Set up by the time routes are compiled (preReady), by the parent's own routes with schemas.
    if (!parent.validatorCompiler) throw new Error(`No validator compiler for ${route.url}: declare upload routes after a route with a schema`);
    return parent.validatorCompiler(route);
  };
  bulk.setValidatorCompiler(bodyValidatedOffLoop);
}

export function campaignRoutes(deps: CampaignRouteDeps): FastifyPluginAsync {
  const { sql } = deps;
  const uploadChecks = deps.uploadChecks ?? uploadCheckSlots(0);
  const maxOpen = deps.maxOpenPerCompany ?? 100;
  const maxContacts = deps.maxContacts ?? 1_000_000;
  const found = async (db: Db, companyId: string, id: string) => {
    const c = await getCampaign(db, companyId, id);
    if (!c) throw notFound('Campaign');
    return c;
  };

  return async (app) => {
    // text/plain too (what some clients send for a file): the same limit, UTF-8 and NUL checks, not fastify's default parser.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'buffer', bodyLimit: MAX_CSV_BYTES }, (_request, body, done) => {
      const text = utf8BodyText(body as Buffer, 'CSV');
      if (typeof text !== 'string') return done(text, undefined);
      if (text.includes('\0')) return done(badRequest('CSV contains a NUL character'), undefined);
      done(null, text);
    });
    const jsonUploadRoute = (declare: (bulk: FastifyInstance) => void) => app.register(async (bulk) => {
      takeJsonBodyAsText(bulk, app);
      declare(bulk);
    });

    // ------------------------------------------------------------------------------------ campaigns
    app.post('/campaigns', {
      config: { scope: 'campaigns:write' },
      schema: {
        tags: ['campaigns'], summary: 'Create a campaign (draft)', body: CampaignBody, response: { 201: CampaignSchema, ...errors(400, 401, 403, 404, 409) },
        description: `A company has at most ${maxOpen} campaigns not yet ended (draft, scheduled, running or paused: CAMPAIGNS_MAX_OPEN_PER_COMPANY; 409 beyond — cancel one to free its place).`,
      },
    }, async (request, reply) => {
      const input = campaignInput(request.body as CampaignBodyT);
      const { companyId } = request.auth;
      await requireOwned(sql, companyId, 'bot', input.bot_id);
      const row = await sql.begin(async (tx) => {
        // Under the company's row lock (as bots are counted), so two creates at once cannot both take the last place.
        await tx`select 1 from companies where id = ${companyId} for update`;
        const [open] = await tx<{ n: number }[]>`
          select count(*)::int as n from campaigns where company_id = ${companyId} and status <> all(${FINAL_CAMPAIGN_STATUSES as string[]})`;
        if (open!.n >= maxOpen) {
          throw conflict(`This company has ${maxOpen} campaigns not yet ended, the most this server allows (CAMPAIGNS_MAX_OPEN_PER_COMPANY); cancel one it no longer needs first`);
        }
        return insertCampaign(tx, companyId, input);
      });
      return reply.status(201).send(view(row));
    });

    app.get('/campaigns', {
      config: { scope: 'campaigns:read' },
      schema: {
        tags: ['campaigns'], summary: 'List campaigns, newest first',
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s)))) }, { additionalProperties: false }),
        response: { 200: Page(CampaignSchema), ...errors(400, 401, 403) },
      },
    }, async (request) => {
      const q = request.query as { limit?: number; cursor?: string; status?: CampaignStatus };
      const limit = q.limit ?? 50;
      const rows = await listCampaigns(sql, request.auth.companyId, limit + 1, q.status, createdKeysetAfter('campaigns', q.cursor));
      const { page, next_cursor } = createdKeysetPage('campaigns', rows, limit);
      return { data: page.map(view), next_cursor };
    });

    app.get('/campaigns/:id', {
      config: { scope: 'campaigns:read' },
      schema: { tags: ['campaigns'], summary: 'Get a campaign with its stats', params: IdParams, response: { 200: CampaignSchema, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const c = await found(sql, request.auth.companyId, id);
      return { ...view(c), stats: await campaignStats(sql, request.auth.companyId, c) };
    });

    app.put('/campaigns/:id', {
      config: { scope: 'campaigns:write' },
      schema: { tags: ['campaigns'], summary: 'Replace a draft campaign\'s settings (409 once scheduled)', params: IdParams, body: CampaignBody, response: { 200: CampaignSchema, ...errors(400, 401, 403, 404, 409) } },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const input = campaignInput(request.body as CampaignBodyT);
      await requireOwned(sql, request.auth.companyId, 'bot', input.bot_id);
      const row = await updateDraft(sql, request.auth.companyId, id, input);
      if (!row) {
        const c = await found(sql, request.auth.companyId, id);
        throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${c.status} campaign cannot be edited; only drafts can`);
      }
      return view(row);
    });

    app.patch('/campaigns/:id', {
      config: { scope: 'campaigns:write' },
      schema: {
        tags: ['campaigns'], summary: 'Change some of a campaign\'s settings, before or while it runs',
        description: 'Until it stops (draft, scheduled, running, paused). Dials from the edit on follow the new settings; contacts waiting for an opening of the old calling windows are decided again, waiting retries follow a new retry_spacing_sec, and a raised max_attempts or later ends_at tries again the contacts exhausted or skipped campaign_ended (never one reached or opted out). Not after scheduling: bot_id; not after it started: starts_at (409).',
        params: IdParams, body: CampaignPatch, response: { 200: CampaignSchema, ...errors(400, 401, 403, 404, 409) },
      },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const { companyId } = request.auth;
      const patch = campaignPatch(request.body as CampaignPatchT);
      if (patch.bot_id !== undefined) await requireOwned(sql, companyId, 'bot', patch.bot_id);
      const { row, changed } = await sql.begin((tx) => editCampaign(tx, companyId, id, patch));
      auditDetails(request, { changed });
      deps.onChange?.();
      return view(row);
    });

    /**
     * After a stop has committed: the first batch of its waiting contacts, so a small campaign's read skipped at once
     * (the job does the rest, skip-waiting.ts). Never fails the stop, and never waits on a contact a dial holds.
     */
    const skipFirstBatch = async (log: FastifyBaseLogger, id: string) => {
      await sql.begin((tx) => skipWaitingBatch(tx, id, { skipLocked: true }))
        .catch((err: unknown) => log.warn({ err, campaignId: id }, 'skipping a stopped campaign\'s first contacts failed; its job does them'));
    };

    const action = (name: string, to: CampaignStatus, summary: string, from: readonly CampaignStatus[]) => {
      app.post(`/campaigns/:id/${name}`, {
        config: { scope: 'campaigns:write' },
        schema: { tags: ['campaigns'], summary, params: IdParams, response: { 200: CampaignSchema, ...errors(400, 401, 403, 404, 409, 503) } },
      }, async (request) => {
        const { id } = request.params as { id: string };
        const companyId = request.auth.companyId;
        const c = await found(sql, companyId, id);
        if (name === 'schedule') {
          if (!deps.dialingAvailable) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'Campaigns dial through Twilio: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN on the server');
          const bot = await getBot(sql, companyId, c.bot_id);
          if (!bot?.is_active || !bot.phone_number) throw new ParleyError('PARLEY_ERR_CONFLICT', 'The campaign\'s bot must be active and have a phone number');
          // Whether it has one, not how many: a probe of one index entry, whatever the campaign's size.
          const [any] = await sql`select 1 from campaign_contacts where campaign_id = ${id} and company_id = ${companyId} limit 1`;
          if (!any) throw new ParleyError('PARLEY_ERR_CONFLICT', 'Add contacts before scheduling the campaign');
          if (c.ends_at && c.ends_at.getTime() <= Date.now()) throw new ParleyError('PARLEY_ERR_CONFLICT', 'The campaign\'s ends_at has passed: set a later one before scheduling it');
        }
        const row = await sql.begin((tx) => transition(tx, companyId, id, to, { expect: from }));
        deps.onChange?.();
        if (FINAL_CAMPAIGN_STATUSES.includes(to)) await skipFirstBatch(request.log, id);
        return view(row);
      });
    };
    action('schedule', 'scheduled', 'Schedule a draft campaign (it starts at starts_at, or at once)', ['draft']);
    action('pause', 'paused', 'Pause: no new dials from now on; live calls finish', ['running']);
    action('resume', 'running', 'Resume a paused campaign', ['paused']);
    action('cancel', 'cancelled', 'Cancel: no new dials; waiting contacts are skipped (campaign_cancelled); live calls finish', ['draft', 'scheduled', 'running', 'paused']);

    // ------------------------------------------------------------------------------------ contacts
    const closedToContacts = (status: CampaignStatus) => new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${status} campaign takes no more contacts`);
    const addContacts = async (auth: AuthContext, reply: FastifyReply, id: string, task: ContactsTask) => {
      const { companyId } = auth;
      const c = await found(sql, companyId, id);
      if (FINAL_CAMPAIGN_STATUSES.includes(c.status)) throw closedToContacts(c.status);
      const { contacts, errors: bad, received } = await checkUploadOffLoop(task, { slots: uploadChecks, companyId });
      // Consent is the callee's record, not the campaign's (PUT /v1/contacts/{number}/consent): rows that carry it
      // are stored only for a key that may write it — otherwise nothing of the upload is.
      if (contacts.some((k) => k.consent)) requireScope(auth, 'contacts:write');
      const added = await sql.begin(async (tx) => {
        // Read again under the row's lock: a stop while the upload was checked would leave these waiting. Exclusive,
        // so two uploads at once cannot both take the campaign's last room.
        const [now] = await tx<{ status: CampaignStatus }[]>`select status from campaigns where id = ${id} for update`;
        if (now && FINAL_CAMPAIGN_STATUSES.includes(now.status)) throw closedToContacts(now.status);
        const [held] = await tx<{ n: number }[]>`select count(*)::int as n from campaign_contacts where campaign_id = ${id}`;
        if (held!.n + contacts.length > maxContacts) {
          throw conflict(`This campaign holds ${held!.n.toLocaleString('en-US')} contacts and may hold ${maxContacts.toLocaleString('en-US')} (CAMPAIGN_CONTACTS_MAX): these ${contacts.length.toLocaleString('en-US')} were not added; put them in another campaign`, { held: held!.n, limit: maxContacts });
        }
        const n = await insertContacts(tx, companyId, id, contacts);
        await setConsents(tx, companyId, contacts.flatMap((k) => (k.consent ? [{ phone: k.phone, voice: k.consent.voice, source: k.consent.source, recordedAt: k.consent.recordedAt }] : [])), 'canonical');
        return n;
      });
      deps.onChange?.();
      return { received, added, duplicates: contacts.length - added, rejected: bad.slice(0, 100), rejected_count: bad.length };
    };

    void jsonUploadRoute((bulk) => bulk.post('/campaigns/:id/contacts', {
      config: { scope: 'campaigns:write' },
      // As much as the CSV route takes: MAX_ROWS contacts with their variables are more than the API's 1 MiB default.
      bodyLimit: 2 * MAX_CSV_BYTES,
      schema: {
        tags: ['campaigns'], summary: `Add contacts (JSON, up to ${MAX_ROWS}); bad rows are reported, not stored. Rows with consent need contacts:write too`,
        params: IdParams, body: ContactsUpload, response: { 200: UploadResult, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      return addContacts(request.auth, reply, id, { kind: 'contacts-json', json: request.body as string | undefined, schema: ContactsUpload });
    }));

    app.post('/campaigns/:id/contacts/csv', {
      config: { scope: 'campaigns:write' },
      schema: {
        tags: ['campaigns'],
        summary: 'Add contacts from CSV (text/csv): phone, name, time_zone, consent_voice, consent_source, consent_recorded_at (these three need contacts:write too); other columns are variables',
        description: `At most ${MAX_CSV_BYTES} bytes and ${MAX_ROWS} rows. Query default_country (ISO) for numbers without +.`,
        consumes: ['text/csv'], params: IdParams, querystring: Type.Object({ default_country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })) }, { additionalProperties: false }),
        body: CsvBody, response: { 200: UploadResult, ...errors(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const q = request.query as { default_country?: string };
      return addContacts(request.auth, reply, id, { kind: 'contacts-csv', csv: request.body as string, defaultCountry: q.default_country });
    });

    app.get('/campaigns/:id/contacts', {
      config: { scope: 'campaigns:read' },
      schema: {
        tags: ['campaigns'], summary: 'List a campaign\'s contacts with their state, attempts and skip reasons, newest first', params: IdParams,
        querystring: Type.Object({ ...PageQuery, state: Type.Optional(Type.Union(['pending', 'dialing', 'live', 'done', 'skipped', 'exhausted'].map((s) => Type.Literal(s)))) }, { additionalProperties: false }),
        response: { 200: Page(ContactSchema), ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const q = request.query as { limit?: number; cursor?: string; state?: ContactState };
      await found(sql, request.auth.companyId, id);
      const limit = q.limit ?? 50;
      const rows = await listContacts(sql, request.auth.companyId, id, limit + 1, q.state, createdKeysetAfter('campaign_contacts', q.cursor));
      const { page, next_cursor } = createdKeysetPage('campaign_contacts', rows, limit);
      return {
        data: page.map(({ campaign_id: _c, next_attempt_at, ...rest }) => ({
          ...rest, next_attempt_at: Number.isFinite(next_attempt_at.getTime()) ? next_attempt_at : null,
        })),
        next_cursor,
      };
    });

    app.get('/campaigns/:id/attempts', {
      config: { scope: 'campaigns:read' },
      schema: { tags: ['campaigns'], summary: 'List a campaign\'s dial attempts, newest first, with outcomes', params: IdParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: Page(AttemptSchema), ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const { id } = request.params as { id: string };
      const q = request.query as { limit?: number; cursor?: string };
      await found(sql, request.auth.companyId, id);
      const limit = q.limit ?? 50;
      let after: { dialedAt: Date; id: string } | undefined;
      if (q.cursor) {
        const [dialedAt, aid] = decodeCursor(q.cursor, 'campaign_attempts', ['timestamp', 'uuid']);
        after = { dialedAt, id: aid };
      }
      const rows = await listAttempts(sql, request.auth.companyId, id, limit + 1, after);
      const page = rows.slice(0, limit).map(({ campaign_id: _c, ...rest }) => rest);
      const last = page.at(-1);
      return { data: page, next_cursor: rows.length > limit && last ? encodeCursor('campaign_attempts', [last.dialed_at.toISOString(), last.id]) : null };
    });

    // ------------------------------------------------------------------------------------ do-not-call
    const addNumbers = async (companyId: string, reply: FastifyReply, task: NumbersTask) => {
      const { numbers: good, errors: bad, received } = await checkUploadOffLoop(task, { slots: uploadChecks, companyId });
      // The thread normalised the numbers already (checkNumbers).
      const added = await addDnc(sql, companyId, good, task.kind === 'numbers-json' ? 'api' : 'csv', null, 'canonical');
      return { received, added, duplicates: good.length - added, rejected: bad.slice(0, 100), rejected_count: bad.length };
    };

    void jsonUploadRoute((bulk) => bulk.post('/dnc', {
      config: { scope: 'dnc:write' },
      schema: { tags: ['dnc'], summary: 'Add numbers to the company\'s do-not-call list (checked before every campaign dial)', body: DncUpload, response: { 200: UploadResult, ...errors(400, 401, 403, 413, 415, 503) } },
    }, async (request, reply) => addNumbers(request.auth.companyId, reply, { kind: 'numbers-json', json: request.body as string | undefined, schema: DncUpload })));

    app.post('/dnc/csv', {
      config: { scope: 'dnc:write' },
      schema: {
        tags: ['dnc'], summary: 'Import do-not-call numbers from CSV (text/csv: phone[,reason])', consumes: ['text/csv'],
        querystring: Type.Object({ default_country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })) }, { additionalProperties: false }),
        body: CsvBody, response: { 200: UploadResult, ...errors(400, 401, 403, 413, 415, 503) },
      },
    }, async (request, reply) => {
      const q = request.query as { default_country?: string };
      return addNumbers(request.auth.companyId, reply, { kind: 'numbers-csv', csv: request.body as string, defaultCountry: q.default_country });
    });

    app.get('/dnc', {
      config: { scope: 'dnc:read' },
      schema: { tags: ['dnc'], summary: 'List the do-not-call list, newest first', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: Page(DncEntry), ...errors(400, 401, 403) } },
    }, async (request) => {
      const q = request.query as { limit?: number; cursor?: string };
      const limit = q.limit ?? 50;
      let after: { createdAt: Date; phone: string } | undefined;
      if (q.cursor) {
        const [createdAt, phone] = decodeCursor(q.cursor, 'dnc', ['timestamp', 'e164']);
        after = { createdAt, phone };
      }
      const rows = await listDnc(sql, request.auth.companyId, limit + 1, after);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { data: page, next_cursor: rows.length > limit && last ? encodeCursor('dnc', [last.created_at.toISOString(), last.phone]) : null };
    });

    app.get('/dnc/:number', {
      config: { scope: 'dnc:read' },
      schema: { tags: ['dnc'], summary: 'Is this number on the do-not-call list?', params: NumberParams, response: { 200: DncEntry, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const row = await getDnc(sql, request.auth.companyId, (request.params as { number: string }).number);
      if (!row) throw notFound('Number on the do-not-call list');
      return row;
    });

    app.delete('/dnc/:number', {
      config: { scope: 'dnc:write', auditHashesNumber: true },
      schema: { tags: ['dnc'], summary: 'Remove a number from the do-not-call list', params: NumberParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404) } },
    }, async (request, reply) => {
      if (!(await removeDnc(sql, request.auth.companyId, (request.params as { number: string }).number))) throw notFound('Number on the do-not-call list');
      return reply.status(204).send();
    });

    // ------------------------------------------------------------------------------------ consent
    app.put('/contacts/:number/consent', {
      config: { scope: 'contacts:write', auditHashesNumber: true },
      schema: { tags: ['contacts'], summary: 'Record voice consent for a number (granted, denied or unknown), with its source and time', params: NumberParams, body: Consent, response: { 200: ConsentSchema, ...errors(400, 401, 403) } },
    }, async (request) => {
      const body = request.body as Static<typeof Consent>;
      return setConsent(sql, request.auth.companyId, {
        phone: (request.params as { number: string }).number, voice: body.voice, source: body.source ?? null,
        recordedAt: body.recorded_at ? parseInstant(body.recorded_at, 'body.recorded_at') : new Date(),
      });
    });

    app.get('/contacts/:number/consent', {
      config: { scope: 'contacts:read' },
      schema: { tags: ['contacts'], summary: 'A number\'s voice consent (unknown when none was recorded)', params: NumberParams, response: { 200: ConsentSchema, ...errors(400, 401, 403) } },
    }, async (request) => {
      const phone = (request.params as { number: string }).number;
      return (await getConsent(sql, request.auth.companyId, phone)) ?? { phone, voice: 'unknown', source: null, recorded_at: null };
    });

    // ------------------------------------------------------------------------------------ policy
    app.get('/campaign-policy', {
      config: { scope: 'campaigns:read' },
      schema: { tags: ['campaigns'], summary: 'The company\'s frequency caps and blocked prefixes (all campaigns)', response: { 200: Policy, ...errors(401, 403) } },
    }, async (request) => getPolicy(sql, request.auth.companyId));

    app.put('/campaign-policy', {
      config: { scope: 'campaigns:write' },
      schema: { tags: ['campaigns'], summary: 'Set the company\'s frequency caps and blocked prefixes', body: Policy, response: { 200: Policy, ...errors(400, 401, 403) } },
    }, async (request) => {
      const body = request.body as Static<typeof Policy>;
      if (body.max_calls_per_week < body.max_calls_per_day) throw badRequest('max_calls_per_week must be at least max_calls_per_day', { field: 'body.max_calls_per_week' });
      return putPolicy(sql, request.auth.companyId, body);
    });
  };
}
