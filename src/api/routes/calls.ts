/** Calls: list with keyset pagination and filters; get one with its transcript and outcome. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CALL_STATUSES, getCall, getOutcome, listCalls, type CallRow } from '../../db/calls.js';
import type { RootSql } from '../../db/sql.js';
import { notFound } from '../../errors.js';
import { hasScope, type AuthContext } from '../auth.js';
import { requireOwned } from '../owned.js';
import { DateTimeInput, IdParams, Page, PageQuery, Timestamp, Uuid, decodeCursor, encodeCursor, errors, parseRange } from '../schemas.js';

const CallStatus = Type.Union(CALL_STATUSES.map((s) => Type.Literal(s)));
const Direction = Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('web')]);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const TranscriptEntry = Type.Object({
  role: Type.Union([Type.Literal('caller'), Type.Literal('bot'), Type.Literal('system')]),
  text: Type.String(),
  ts: Type.String(),
  latency: Type.Optional(Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), { description: 'Milliseconds per stage of this bot turn' })),
  interrupted: Type.Optional(Type.Boolean({ description: 'The caller interrupted; text is what they heard' })),
  unsaid: Type.Optional(Type.Array(Type.String(), { description: 'Bot turns: phrases the voice could not say (it refused them, or failed on them twice), skipped and never heard; text is what was said without them' })),
  safety: Type.Optional(Type.Array(
    Type.Object({ reason: Type.String(), detail: Type.Optional(Type.String()) }),
    { description: 'Bot answers: phrases the safe-speech check changed or refused, with the reason; text is what was spoken' },
  )),
  endOfTurn: Type.Optional(
    Type.Object(
      { score: Type.Number({ description: 'How likely the caller was done, 0–1' }), rule: Type.String({ description: 'The rules that decided' }) },
      { description: 'Spoken caller turns: why the turn was judged over (see docs on end of turn)' },
    ),
  ),
});

const OutcomeSchema = Type.Object({
  outcome_type: Type.String(),
  confidence: Type.Number(),
  summary: Type.String(),
  extracted_data: Type.Record(Type.String(), Type.Unknown()),
  analyzer: Type.String(),
  webhook_sent: Type.Boolean(),
  webhook_sent_at: Nullable(Timestamp),
  webhook_response_code: Nullable(Type.Integer()),
  created_at: Timestamp,
});

export const CallSummarySchema = Type.Object({
  id: Uuid,
  bot_id: Nullable(Uuid),
  direction: Direction,
  twilio_call_sid: Nullable(Type.String()),
  from_number: Nullable(Type.String()),
  to_number: Nullable(Type.String()),
  status: CallStatus,
  started_at: Timestamp,
  answered_at: Nullable(Timestamp),
  ended_at: Nullable(Timestamp),
  duration_sec: Nullable(Type.Integer()),
  recording_url: Nullable(Type.String({ description: 'Twilio\'s URL of the call\'s recording: null unless the key holds recordings:read' })),
  failure_reason: Nullable(Type.String({ description: 'Why a call that did not complete failed; null for a completed call' })),
  end_reason: Nullable(Type.String({ description: 'Why the call ended, completed or not (caller_hangup…, bot_end_call…, silence, max_duration, transferred, voicemail_left…, voicemail_hung_up…, fax, server_lost…: the reason call.ended carries); null while live' })),
});

const RecordingSchema = Type.Object({
  source: Type.Union([Type.Literal('parley'), Type.Literal('twilio')], { description: 'parley: a web call Parley recorded; twilio: recorded by Twilio' }),
  duration_sec: Nullable(Type.Integer()),
  channels: Nullable(Type.Integer({ description: '2: caller and bot apart (web calls: caller left, bot right)' })),
}, { description: 'The call\'s recording, streamed by GET /v1/calls/{id}/recording (scope recordings:read); null when there is none' });

const CallDetailSchema = Type.Intersect([
  CallSummarySchema,
  Type.Object({ transcript: Type.Array(TranscriptEntry), outcome: Nullable(OutcomeSchema), recording: Nullable(RecordingSchema) }),
]);

/** The recording columns of migrations/0150 (read with `select *`). */
type RecordingColumns = { recording_sid?: string | null; recording_key?: string | null; recording_duration_sec?: number | null; recording_channels?: number | null };
const recordingOf = (call: CallRow & RecordingColumns) =>
  call.recording_key || call.recording_sid
    ? { source: call.recording_key ? 'parley' as const : 'twilio' as const, duration_sec: call.recording_duration_sec ?? null, channels: call.recording_channels ?? null }
    : null;

const ListQuery = Type.Object(
  {
    ...PageQuery,
    bot_id: Type.Optional(Uuid),
    status: Type.Optional(CallStatus),
    direction: Type.Optional(Direction),
    from: Type.Optional(DateTimeInput('started_at ≥ from')),
    to: Type.Optional(DateTimeInput('started_at < to')),
  },
  { additionalProperties: false },
);

/**
 * A call as the API shows it to `auth`'s key. Twilio's recording URL only to a key that may read recordings: on
 * many Twilio accounts that URL downloads the audio without credentials, so it is the recording itself.
 */
export const summary = ({ company_id: _c, created_at: _ca, updated_at: _ua, recording_url, ...rest }: CallRow, auth: AuthContext) =>
  ({ ...rest, recording_url: hasScope(auth.scopes, 'recordings:read') ? recording_url : null });

export function callRoutes(deps: { sql: RootSql }): FastifyPluginAsync {
  return async (app) => {
    app.get('/calls', {
      config: { scope: 'calls:read' },
      schema: { tags: ['calls'], summary: 'List calls, newest first', querystring: ListQuery, response: { 200: Page(CallSummarySchema), ...errors(400, 401, 404) } },
    }, async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      await requireOwned(deps.sql, request.auth.companyId, 'bot', q.bot_id);
      const limit = q.limit ?? 50;
      let after: { startedAt: Date; id: string } | undefined;
      if (q.cursor) {
        const [startedAt, id] = decodeCursor(q.cursor, 'calls', ['timestamp', 'uuid']);
        after = { startedAt, id };
      }
      const rows = await listCalls(deps.sql, request.auth.companyId, {
        ...(q.bot_id ? { botId: q.bot_id } : {}),
        ...(q.status ? { status: q.status as CallRow['status'] } : {}),
        ...(q.direction ? { direction: q.direction } : {}),
        ...parseRange(q),
      }, { limit: limit + 1, ...(after ? { after } : {}) });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        data: page.map((row) => summary(row, request.auth)),
        next_cursor: rows.length > limit && last ? encodeCursor('calls', [last.started_at.toISOString(), last.id]) : null,
      };
    });

    app.get('/calls/:id', {
      config: { scope: 'calls:read' },
      schema: { tags: ['calls'], summary: 'Get a call with its transcript and outcome', params: IdParams, response: { 200: CallDetailSchema, ...errors(400, 401, 404) } },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const call = await getCall(deps.sql, request.auth.companyId, id);
      if (!call) throw notFound('Call');
      const outcome = await getOutcome(deps.sql, call.id);
      const { transcript, ...row } = call;
      return { ...summary(row, request.auth), transcript, outcome: outcome ?? null, recording: recordingOf(row) };
    });
  };
}
