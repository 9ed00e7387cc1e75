/**
 * Twilio's HTTP webhooks: POST /twilio/voice answers a call with <Connect><Stream>, POST /twilio/status applies
 * status callbacks without ever moving a call backwards.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { findActiveBotByNumber, getBotById, type BotRow } from '../../db/bots.js';
import { insertCall } from '../../db/calls.js';
import type { RootSql } from '../../db/sql.js';
import { enqueueJob } from '../../jobs/queue.js';
import { emitEvent } from '../../webhooks/emit.js';
import { signCallToken } from '../call-token.js';
import { isValidFormSignature, publicUrl, publicWsUrl } from './signature.js';
import { TWILIO_BODY_LIMIT } from './form-limits.js';
import { OUTBOUND_PATH } from './outbound.js';
import { apologyTwiml, connectStreamTwiml, hangupTwiml } from './twiml.js';

export interface TwilioRouteDeps {
  sql: RootSql;
  authToken: string;
  publicOrigin: string;
  callTokenSecret: string;
  /** How long the media socket has to present its token after the webhook answered. */
  tokenTtlMs?: number;
  /** Starts opening the call's provider sessions while Twilio sets up the stream (see prewarm.ts). */
  prewarm?: (callId: string, bot: BotRow) => void;
  /** Requests per minute per client IP on these routes (TWILIO_RATE_LIMIT_PER_MIN); 429 beyond. */
  rateLimitPerMin?: number;
}

export const MEDIA_PATH = '/twilio/media';

const APOLOGY = {
  en: 'Sorry, this number is not in service. Goodbye.',
  ru: 'Извините, этот номер не обслуживается. До свидания.',
};

type Form = Record<string, string | undefined>;

/** `path` is the URL Twilio was given (and signed), without query string. */
function checkSignature(deps: TwilioRouteDeps, path: string | ((request: FastifyRequest) => string)) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const signedPath = typeof path === 'string' ? path : path(request);
    const ok = isValidFormSignature(deps.authToken, request.headers['x-twilio-signature'], publicUrl(deps.publicOrigin, signedPath), (request.body ?? {}) as Form);
    if (!ok) {
      request.log.warn({ path }, 'rejected a request with a bad Twilio signature');
      return reply.status(403).type('text/plain').send('Invalid Twilio signature');
    }
  };
}

/** <Connect><Stream> to the media socket, with the call id and a short-lived token as <Parameter>s. */
function streamTwiml(deps: TwilioRouteDeps, callId: string): string {
  const token = signCallToken(deps.callTokenSecret, { callId, aud: 'twilio-media', exp: Date.now() + (deps.tokenTtlMs ?? 60_000) });
  return connectStreamTwiml(publicWsUrl(deps.publicOrigin, MEDIA_PATH), { callId, token });
}

/** A session's last turns are written as it winds down; the analysis of a call Twilio ended under it waits this long. */
const ANALYSIS_DELAY_AFTER_LIVE_MS = 10_000;

/** Order of call states; terminal states share the top rank so none replaces another. */
const RANK: Record<string, number> = { queued: 0, ringing: 1, in_progress: 2 };
const rankOf = (status: string): number => RANK[status] ?? 3;

const STATUS_MAP: Record<string, string> = {
  queued: 'queued', initiated: 'queued', ringing: 'ringing', 'in-progress': 'in_progress', answered: 'in_progress',
  completed: 'completed', busy: 'busy', failed: 'failed', 'no-answer': 'no_answer', canceled: 'canceled',
};

export function twilioVoiceRoutes(deps: TwilioRouteDeps): FastifyPluginAsync {
  return async (app) => {
    // Before any parsing or signature work: bodies over 64 KiB are 413 unread (forms over 200 parameters are
    // 400, see form-limits.ts), and each client IP gets TWILIO_RATE_LIMIT_PER_MIN requests a minute.
    app.addHook('onRoute', (route) => {
      route.bodyLimit = Math.min(route.bodyLimit ?? TWILIO_BODY_LIMIT, TWILIO_BODY_LIMIT);
    });
    await app.register(rateLimit, {
      max: deps.rateLimitPerMin ?? 1200,
      timeWindow: 60_000,
      hook: 'onRequest',
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        error: { code: 'PARLEY_ERR_RATE_LIMITED', message: `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s` },
      }),
    });
    app.post('/twilio/voice', { preHandler: checkSignature(deps, '/twilio/voice'), schema: { hide: true } as object }, async (request, reply) => {
      const form = request.body as Form;
      const callSid = form.CallSid;
      const to = form.To ?? '';
      const from = form.From ?? null;
      if (!callSid) return reply.status(400).type('text/plain').send('CallSid missing');

      const bot = await findActiveBotByNumber(deps.sql, to);
      if (!bot) {
        await insertCall(deps.sql, { companyId: null, botId: null, direction: 'inbound', twilioCallSid: callSid, from, to, status: 'failed', failureReason: `no active bot for ${to || 'an empty number'}` });
        request.log.info({ callSid }, 'call to a number with no active bot');
        return reply.type('text/xml').send(apologyTwiml(APOLOGY.en, 'en'));
      }
      const direction = form.Direction?.startsWith('outbound') ? 'outbound' : 'inbound';
      const call = await insertCall(deps.sql, { companyId: bot.company_id, botId: bot.id, direction, twilioCallSid: callSid, from, to, status: 'ringing' });
      deps.prewarm?.(call.id, bot);
      return reply.type('text/xml').send(streamTwiml(deps, call.id));
    });

    // The answer URL of a call Parley placed (see outbound.ts): the call row exists; tie it to Twilio's SID.
    app.post(`${OUTBOUND_PATH}/:callId`, {
      preHandler: checkSignature(deps, (request) => `${OUTBOUND_PATH}/${encodeURIComponent((request.params as { callId: string }).callId)}`),
      schema: { hide: true, params: { type: 'object', properties: { callId: { type: 'string', format: 'uuid' } }, required: ['callId'] } } as object,
    }, async (request, reply) => {
      const { callId } = request.params as { callId: string };
      const form = request.body as Form;
      const callSid = form.CallSid;
      if (!callSid) return reply.status(400).type('text/plain').send('CallSid missing');
      const [call] = await deps.sql<{ id: string; bot_id: string | null }[]>`
        update calls set twilio_call_sid = coalesce(twilio_call_sid, ${callSid}), updated_at = now()
        where id = ${callId} and direction = 'outbound' and status in ('queued', 'ringing', 'in_progress')
          and (twilio_call_sid is null or twilio_call_sid = ${callSid})
        returning id, bot_id`;
      const bot = call?.bot_id ? await getBotById(deps.sql, call.bot_id) : undefined;
      if (!call || !bot?.is_active) {
        request.log.warn({ callSid }, 'outbound answer for an unknown, ended or foreign call: hanging up');
        return reply.type('text/xml').send(hangupTwiml());
      }
      // Present only when the call was placed with answering-machine detection (hang_up_on_machine).
      const answeredBy = form.AnsweredBy ?? '';
      if (answeredBy.startsWith('machine') || answeredBy === 'fax') {
        await deps.sql`update calls set failure_reason = ${`answered by a machine (${answeredBy.slice(0, 40)})`}, updated_at = now() where id = ${call.id}`;
        return reply.type('text/xml').send(hangupTwiml());
      }
      deps.prewarm?.(call.id, bot);
      return reply.type('text/xml').send(streamTwiml(deps, call.id));
    });

    /**
     * Status callbacks. Calls Parley placed carry their id in the callback URL (/twilio/status/:callId), so
     * callbacks that beat Twilio's reply to the create request — before the row knows its CallSid — still land.
     */
    const applyStatus = async (request: FastifyRequest, reply: FastifyReply, callId: string | null) => {
      const form = request.body as Form;
      const status = STATUS_MAP[form.CallStatus ?? ''];
      const callSid = form.CallSid;
      if (!callSid || !status) return reply.status(400).type('text/plain').send('CallSid or CallStatus missing');
      const recordingUrl = form.RecordingUrl ?? null;
      const seq = Number.parseInt(form.SequenceNumber ?? '', 10);
      const duration = Number.parseInt(form.CallDuration ?? '', 10);
      const terminal = !['queued', 'ringing', 'in_progress'].includes(status);
      const match = callId
        ? deps.sql`id = ${callId} and (twilio_call_sid is null or twilio_call_sid = ${callSid})`
        : deps.sql`twilio_call_sid = ${callSid}`;
      await deps.sql.begin(async (tx) => {
        // Only forward moves: a late "ringing" after "completed" changes nothing.
        const [row] = await tx<{ id: string; company_id: string | null; bot_id: string | null; ended_here: boolean; had_media: boolean }[]>`
          update calls c set
            status = ${status},
            twilio_call_sid = coalesce(c.twilio_call_sid, ${callSid}),
            status_sequence = greatest(c.status_sequence, ${Number.isFinite(seq) ? seq : -1}),
            answered_at = case when ${status} = 'in_progress' then coalesce(c.answered_at, now()) else c.answered_at end,
            ended_at = case when ${terminal} then coalesce(c.ended_at, now()) else c.ended_at end,
            duration_sec = case when ${terminal} then coalesce(c.duration_sec, ${Number.isFinite(duration) ? duration : null}::int) else c.duration_sec end,
            recording_url = coalesce(${recordingUrl}::text, c.recording_url),
            updated_at = now()
          from (select id, status as old_status, ended_at as old_ended_at, media_started_at from calls where ${match} for update) old
          where c.id = old.id
            and (case old.old_status when 'queued' then 0 when 'ringing' then 1 when 'in_progress' then 2 else 3 end) < ${rankOf(status)}
          returning c.id, c.company_id, c.bot_id, (${terminal} and old.old_ended_at is null) as ended_here,
                    (old.media_started_at is not null) as had_media`;
        // Whoever ends the call first produces call.ended and the analysis job, exactly once: this callback when
        // Twilio reports the end first (busy, no answer, a hang-up racing the media socket, a server that lost
        // the session), else the session's recorder. The analysis waits a little after a live session, so the
        // turns still being written are in the transcript it reads.
        if (row?.ended_here && row.company_id) {
          await emitEvent(tx, { companyId: row.company_id, type: 'call.ended', data: { call_id: row.id, bot_id: row.bot_id, status }, orderingKey: row.id });
          await enqueueJob(tx, {
            kind: 'analyze_call',
            payload: { callId: row.id },
            dedupeKey: `analyze:${row.id}`,
            runAt: new Date(Date.now() + (row.had_media ? ANALYSIS_DELAY_AFTER_LIVE_MS : 0)),
          });
        }
      });
      return reply.status(204).send();
    };
    app.post('/twilio/status', { preHandler: checkSignature(deps, '/twilio/status'), schema: { hide: true } as object }, (request, reply) =>
      applyStatus(request, reply, null));
    app.post('/twilio/status/:callId', {
      preHandler: checkSignature(deps, (request) => `/twilio/status/${encodeURIComponent((request.params as { callId: string }).callId)}`),
      schema: { hide: true, params: { type: 'object', properties: { callId: { type: 'string', format: 'uuid' } }, required: ['callId'] } } as object,
    }, (request, reply) => applyStatus(request, reply, (request.params as { callId: string }).callId));
  };
}
