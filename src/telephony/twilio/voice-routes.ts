/**
 * Twilio's HTTP webhooks: POST /twilio/voice answers a call with <Connect><Stream>, POST /twilio/status applies
 * status callbacks without ever moving a call backwards, POST /twilio/recording/:callId stores what a call's
 * recording status callback reports. A bot with `recording.enabled` gets its calls recorded by Twilio (dual
 * channel, started in the answering TwiML, after its notice); a company whose monthly budget is used up has its
 * inbound calls answered with a short notice and a hang-up.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createCall, endCallInTx, recordRefusedCall } from '../../call/lifecycle.js';
import type { CallEndReason } from '../../call/end-reasons.js';
import { isMachineVerdict, machineEndReason, recordMachineAnswer } from '../../call/machine-answer.js';
import { connectionAuthenticated } from '../../connection-guard.js';
import { findActiveBotByNumber, getBotForCall, type BotRow } from '../../db/bots.js';
import { callStatusRank, isLiveStatus, liveStatuses, type CallStatus } from '../../db/calls.js';
import { END_REASON, TWILIO_CALL_STATUS } from './call-status.js';
import type { RootSql } from '../../db/sql.js';
import { signCallToken } from '../call-token.js';
import { isValidFormSignature, publicUrl, publicWsUrl } from './signature.js';
import { TWILIO_BODY_LIMIT } from './form-limits.js';
import { UUID_PATTERN } from '../../util/uuid.js';
import { answerCampaignCall } from '../../campaigns/answer.js';
import { registerVoicemailRoute, type VoicemailAudio } from '../../campaigns/voicemail-audio.js';
import { OUTBOUND_PATH } from './outbound.js';
import { apologyTwiml, connectStreamTwiml, hangupTwiml } from './twiml.js';
import { recordingOf } from '../../bots/config-schema.js';
import { RECORDING_SID, saveTwilioRecording } from '../../recordings/repo.js';
import { BUDGET_EXHAUSTED, type BudgetCheck } from '../../usage/budget.js';
import { TwilioForm } from './webhook-form.js';
import type { CallRunner } from '../call-runner.js';

/** The call id in a Twilio webhook's path (the URLs Parley gave Twilio). */
const CALL_ID_PARAMS = { type: 'object', properties: { callId: { type: 'string', pattern: UUID_PATTERN.source } }, required: ['callId'] };

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
  /** A campaign's voicemail in the bot's voice: GET /twilio/voicemail/:attemptId.wav; without it, <Say>. */
  voicemail?: VoicemailAudio;
  /** The company's monthly budget (src/usage/budget.ts): exhausted → inbound calls hear BUDGET_NOTICE and end. */
  budget?: BudgetCheck;
  /** The calls this instance runs (CallRunner): a final status callback ends the call's session here at once. */
  liveCalls?: Pick<CallRunner, 'endLiveSession'>;
  /**
   * Whether a call answered now can be run: false while this instance stops (SIGTERM) and no other instance is there
   * to take its media stream. Such a call hears SHUTDOWN_NOTICE and is ended `failed` / `server_shutdown: …` at once,
   * rather than being handed a stream URL nobody will answer (the call stayed `ringing` until the sweep). Unset: always.
   */
  takesNewCalls?: () => Promise<boolean>;
}

export const MEDIA_PATH = '/twilio/media';

const APOLOGY = {
  en: 'Sorry, this number is not in service. Goodbye.',
  ru: 'Извините, этот номер не обслуживается. До свидания.',
};

/** Said to inbound callers of a company whose monthly budget is used up, before the hang-up. */
export const BUDGET_NOTICE = {
  en: 'Sorry, we cannot take your call right now. Please try again later. Goodbye.',
  ru: 'Извините, сейчас мы не можем принять ваш звонок. Пожалуйста, перезвоните позже. До свидания.',
};

/** Said to callers whose call comes in while the server stops with no other instance to run it, before the hang-up. */
export const SHUTDOWN_NOTICE = {
  en: 'Sorry, we cannot take your call right now. Please call again in a few minutes. Goodbye.',
  ru: 'Извините, сейчас мы не можем принять ваш звонок. Пожалуйста, перезвоните через несколько минут. До свидания.',
};

/** The end reason of a call refused for that (docs/operations.md, Stopping). */
export const SHUTDOWN_REFUSAL: CallEndReason = 'server_shutdown: the server was stopping when the call came in';

export const RECORDING_PATH = '/twilio/recording';

/** The query string of the request as received (`?…`, exactly as Twilio signed it), or ''. */
function rawQuery(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}

/**
 * `path` is the URL Twilio was given, without query string; the request's own query string is signed with it
 * (Twilio signs the full URL it calls), so one added to or changed in a signed request fails the check.
 */
function checkSignature(deps: TwilioRouteDeps, path: string | ((request: FastifyRequest) => string)) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const signedPath = typeof path === 'string' ? path : path(request);
    const signedUrl = publicUrl(deps.publicOrigin, signedPath) + rawQuery(request);
    const ok = isValidFormSignature(deps.authToken, request.headers['x-twilio-signature'], signedUrl, (request.body ?? {}) as Record<string, unknown>);
    if (!ok) {
      request.log.warn({ path }, 'rejected a request with a bad Twilio signature');
      return reply.status(403).type('text/plain').send('Invalid Twilio signature');
    }
    // Twilio's: its many kept-alive webhook connections, from a few addresses, no longer count as strangers'.
    connectionAuthenticated(request.raw.socket);
  };
}

/**
 * <Connect><Stream> to the media socket, with the call id and a short-lived token as <Parameter>s; before it, when
 * the bot records its calls, its notice and <Start><Recording> reporting to /twilio/recording/:callId.
 */
function streamTwiml(deps: TwilioRouteDeps, callId: string, bot: BotRow): string {
  const token = signCallToken(deps.callTokenSecret, { callId, aud: 'twilio-media', exp: Date.now() + (deps.tokenTtlMs ?? 60_000) });
  const recording = recordingOf(bot.config);
  return connectStreamTwiml(publicWsUrl(deps.publicOrigin, MEDIA_PATH), { callId, token }, recording.enabled
    ? {
        notice: recording.notice ? { text: recording.notice, language: bot.language } : null,
        recordingCallbackUrl: publicUrl(deps.publicOrigin, `${RECORDING_PATH}/${callId}`),
      }
    : {});
}

/** The row the voice webhook created — or found, for a CallSid it has seen — is this bot's call, still live. */
function isThisBotsLiveCall(call: { bot_id: string | null; status: CallStatus }, bot: BotRow): boolean {
  return call.bot_id === bot.id && isLiveStatus(call.status);
}

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
      const form = new TwilioForm(request.body);
      const callSid = form.text('CallSid');
      const to = form.text('To') ?? '';
      const from = form.text('From') ?? null;
      if (!callSid) return reply.status(400).type('text/plain').send('CallSid missing');

      const bot = await findActiveBotByNumber(deps.sql, to);
      if (!bot) {
        await recordRefusedCall(deps.sql, { twilioCallSid: callSid, from, to, reason: `no active bot for ${to || 'an empty number'}` });
        request.log.info({ callSid }, 'call to a number with no active bot');
        return reply.type('text/xml').send(apologyTwiml(APOLOGY.en, 'en'));
      }
      const direction = form.text('Direction')?.startsWith('outbound') ? 'outbound' : 'inbound';
      // A call that cannot be taken is recorded as the company's call, ended at once with the reason; the caller
      // hears why, in the bot's language.
      const refuse = async (reason: CallEndReason, notice: Record<'en' | 'ru', string>, why: string) => {
        const answered = await deps.sql.begin(async (tx) => {
          const call = await createCall(tx, { companyId: bot.company_id, botId: bot.id, direction, twilioCallSid: callSid, from, to, status: 'ringing' });
          if (!isThisBotsLiveCall(call, bot)) return false;
          await endCallInTx(tx, { callId: call.id, companyId: bot.company_id }, { status: 'failed', reason }, { by: 'telephony', durationSec: 0 });
          return true;
        });
        if (!answered) return reply.type('text/xml').send(hangupTwiml());
        request.log.info({ callSid, companyId: bot.company_id }, `inbound call refused: ${why}`);
        return reply.type('text/xml').send(apologyTwiml(notice[bot.language], bot.language));
      };
      if ((await deps.budget?.status(bot.company_id))?.exhausted) return refuse(BUDGET_EXHAUSTED, BUDGET_NOTICE, 'the monthly budget is used up');
      if (deps.takesNewCalls && !(await deps.takesNewCalls())) return refuse(SHUTDOWN_REFUSAL, SHUTDOWN_NOTICE, 'the server is stopping and no other instance can run it');
      const call = await createCall(deps.sql, { companyId: bot.company_id, botId: bot.id, direction, twilioCallSid: callSid, from, to, status: 'ringing' });
      // A repeated webhook (Twilio's retry or fallback URL, with the same CallSid) finds the row the first one made:
      // while it is live it is answered again; one that has ended, or is not this bot's, is hung up on.
      if (!isThisBotsLiveCall(call, bot)) {
        request.log.warn({ callSid }, 'voice webhook for a call that has ended or is not this bot\'s: hanging up');
        return reply.type('text/xml').send(hangupTwiml());
      }
      deps.prewarm?.(call.id, bot);
      return reply.type('text/xml').send(streamTwiml(deps, call.id, bot));
    });

    // The answer URL of a call Parley placed (see outbound.ts): the call row exists; tie it to Twilio's SID.
    app.post(`${OUTBOUND_PATH}/:callId`, {
      preHandler: checkSignature(deps, (request) => `${OUTBOUND_PATH}/${encodeURIComponent((request.params as { callId: string }).callId)}`),
      schema: { hide: true, params: CALL_ID_PARAMS } as object,
    }, async (request, reply) => {
      const { callId } = request.params as { callId: string };
      const form = new TwilioForm(request.body);
      const callSid = form.text('CallSid');
      if (!callSid) return reply.status(400).type('text/plain').send('CallSid missing');
      const [call] = await deps.sql<{ id: string; company_id: string | null; bot_id: string | null }[]>`
        update calls set twilio_call_sid = coalesce(twilio_call_sid, ${callSid}), updated_at = now()
        where id = ${callId} and direction = 'outbound' and status = any(${liveStatuses()})
          and (twilio_call_sid is null or twilio_call_sid = ${callSid})
        returning id, company_id, bot_id`;
      const found = call?.bot_id ? await getBotForCall(deps.sql, call.bot_id) : undefined;
      if (!call || !found?.callable) {
        request.log.warn({ callSid, botGone: Boolean(call) && !found }, 'outbound answer for an unknown, ended or foreign call, or for a bot or company no longer active: hanging up');
        // Ended now with why (Twilio's final callback then only adds its billed duration), not `caller_hangup`.
        const companyId = call?.company_id;
        if (call && companyId) {
          const reason = found ? 'bot_disabled: the bot or its company was disabled before the call was answered' : 'bot_disabled: the bot was deleted before the call was answered';
          await deps.sql.begin((tx) => endCallInTx(tx, { callId: call.id, companyId }, { status: 'canceled', reason }, { by: 'telephony', durationSec: 0 }));
        }
        return reply.type('text/xml').send(hangupTwiml());
      }
      const { bot } = found;
      // Present only when the call was placed with answering-machine detection (hang_up_on_machine, campaigns).
      const answeredBy = form.text('AnsweredBy') ?? '';
      // A campaign's call: its voicemail setting decides (leave the message after the beep, or hang up).
      const campaign = await answerCampaignCall(deps.sql, call.id, answeredBy, { voicemail: deps.voicemail, log: request.log });
      if (campaign?.twiml) return reply.type('text/xml').send(campaign.twiml);
      if (!campaign && isMachineVerdict(answeredBy)) {
        await recordMachineAnswer(deps.sql, call.id, { reason: machineEndReason(answeredBy, false), failure: `answered by a machine (${answeredBy.slice(0, 40)})` });
        return reply.type('text/xml').send(hangupTwiml());
      }
      if (deps.takesNewCalls && !(await deps.takesNewCalls()) && call.company_id) {
        const companyId = call.company_id;
        await deps.sql.begin((tx) => endCallInTx(tx, { callId: call.id, companyId }, { status: 'failed', reason: SHUTDOWN_REFUSAL }, { by: 'telephony', durationSec: 0 }));
        request.log.info({ callSid, companyId }, 'outbound call answered while the server is stopping and no other instance can run it: hanging up');
        return reply.type('text/xml').send(apologyTwiml(SHUTDOWN_NOTICE[bot.language], bot.language));
      }
      deps.prewarm?.(call.id, bot);
      return reply.type('text/xml').send(streamTwiml(deps, call.id, bot));
    });

    if (deps.voicemail) registerVoicemailRoute(app, deps.voicemail);

    /**
     * A call's recording status callback (the URL in its <Start><Recording>): the recording's SID, URL, duration
     * and channels go on the call. Only a completed recording is stored; a repeated callback changes nothing; a
     * callback for no call with that id and CallSid is 404 and touches nothing.
     */
    app.post(`${RECORDING_PATH}/:callId`, {
      preHandler: checkSignature(deps, (request) => `${RECORDING_PATH}/${encodeURIComponent((request.params as { callId: string }).callId)}`),
      schema: { hide: true, params: CALL_ID_PARAMS } as object,
    }, async (request, reply) => {
      const { callId } = request.params as { callId: string };
      const form = new TwilioForm(request.body);
      const callSid = form.text('CallSid');
      const recordingSid = form.text('RecordingSid') ?? '';
      if (!callSid || !RECORDING_SID.test(recordingSid)) return reply.status(400).type('text/plain').send('CallSid or RecordingSid missing or malformed');
      const channels = form.count('RecordingChannels');
      const [call] = await deps.sql`select 1 from calls where id = ${callId} and twilio_call_sid = ${callSid} and company_id is not null`;
      if (!call) return reply.status(404).type('text/plain').send('No such call');
      if (form.text('RecordingStatus') !== 'completed') return reply.status(204).send();
      const result = await saveTwilioRecording(deps.sql, {
        callId, callSid, recordingSid,
        recordingUrl: form.text('RecordingUrl')?.slice(0, 500) ?? null,
        durationSec: form.count('RecordingDuration'),
        channels: channels === 1 || channels === 2 ? channels : null,
      });
      if (result === 'unknown') return reply.status(404).type('text/plain').send('No such call');
      return reply.status(204).send();
    });

    /**
     * Status callbacks. Calls Parley placed carry their id in the callback URL (/twilio/status/:callId), so
     * callbacks that beat Twilio's reply to the create request — before the row knows its CallSid — still land.
     */
    const applyStatus = async (request: FastifyRequest, reply: FastifyReply, callId: string | null) => {
      const form = new TwilioForm(request.body);
      const callStatus = form.text('CallStatus') ?? '';
      const status = Object.hasOwn(TWILIO_CALL_STATUS, callStatus) ? TWILIO_CALL_STATUS[callStatus] : undefined;
      const callSid = form.text('CallSid');
      if (!callSid || !status) return reply.status(400).type('text/plain').send('CallSid or CallStatus missing');
      const recordingUrl = form.text('RecordingUrl')?.slice(0, 500) ?? null;
      const seq = form.count('SequenceNumber');
      // What Twilio bills, on a final status: it replaces Parley's own figure even once the call has ended (Twilio
      // counts from its answer, before the media stream starts; a refused call it answered lasted seconds too).
      const billedSec = isLiveStatus(status) ? null : form.count('CallDuration', 1_999_999);
      // A call's own callback URL is only ever given to Twilio for a call Parley placed: a web call (no SID) or an
      // inbound one is never bound to a SID or ended through it.
      const match = callId
        ? deps.sql`id = ${callId} and direction = 'outbound' and (twilio_call_sid is null or twilio_call_sid = ${callSid})`
        : deps.sql`twilio_call_sid = ${callSid}`;
      const ended = await deps.sql.begin(async (tx) => {
        const [call] = await tx<{ id: string; company_id: string | null; status: CallStatus }[]>`
          select id, company_id, status from calls where ${match} for update`;
        if (!call) return null;
        await tx`
          update calls set
            twilio_call_sid = coalesce(twilio_call_sid, ${callSid}),
            status_sequence = greatest(status_sequence, ${seq ?? -1}),
            recording_url = coalesce(${recordingUrl}::text, recording_url),
            duration_sec = case when ended_at is not null and ${billedSec}::int is not null then ${billedSec}::int else duration_sec end,
            updated_at = now()
          where id = ${call.id}`;
        // Only forward moves: a late "ringing" after "completed" changes nothing.
        if (callStatusRank(status) <= callStatusRank(call.status)) return null;
        if (isLiveStatus(status)) {
          await tx`
            update calls set status = ${status},
              answered_at = case when ${status} = 'in_progress' then coalesce(answered_at, now()) else answered_at end
            where id = ${call.id}`;
          return null;
        }
        // Twilio reports the end first (busy, no answer, a hang-up racing the media socket, a server that lost
        // the session): the lifecycle ends the row, once, whoever comes first.
        if (!call.company_id) return null;
        const done = await endCallInTx(tx, { callId: call.id, companyId: call.company_id }, { status, reason: END_REASON[status] }, {
          by: 'telephony', durationSec: billedSec,
        });
        return done ? { callId: call.id, reason: END_REASON[status] } : null;
      });
      // The call is over: its session, when it runs here, ends now rather than when its media socket closes (which
      // a lost close or a half-open connection never does). Another instance running it hears of the end through
      // the database (call-end-notices.ts).
      if (ended) deps.liveCalls?.endLiveSession(ended.callId, ended.reason);
      return reply.status(204).send();
    };
    app.post('/twilio/status', { preHandler: checkSignature(deps, '/twilio/status'), schema: { hide: true } as object }, (request, reply) =>
      applyStatus(request, reply, null));
    app.post('/twilio/status/:callId', {
      preHandler: checkSignature(deps, (request) => `/twilio/status/${encodeURIComponent((request.params as { callId: string }).callId)}`),
      schema: { hide: true, params: CALL_ID_PARAMS } as object,
    }, (request, reply) => applyStatus(request, reply, (request.params as { callId: string }).callId));
  };
}
