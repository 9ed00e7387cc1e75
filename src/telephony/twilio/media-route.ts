/**
 * WS /twilio/media: authenticate the handshake (X-Twilio-Signature on the wss URL) and then the `start`
 * message (the signed token from <Parameter>), before any audio is processed. The token opens one stream: the
 * call's media start is claimed in the database (media-claim.ts), so a second socket with it is refused.
 * Malformed or unexpected frames — binary, oversized (up to MAX_SOCKET_PAYLOAD), invalid UTF-8, not JSON, bad
 * base64 audio, outbound-track media, unknown marks, messages of another streamSid — are counted and logged once
 * per call; they never end the call. Before `start` is accepted the socket may send only Twilio's `connected` and
 * `start` (UnauthenticatedFrames: anything more, binary or oversized terminates it); every refusal is a close
 * frame and, a second later, the connection cut (closeUnauthenticated).
 */
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Metrics } from '../../metrics.js';
import type { SequenceGaps } from './sequence-gaps.js';
import { getBotForCall } from '../../db/bots.js';
import { endCallInTx } from '../../call/lifecycle.js';
import { getCallById, isLiveStatus } from '../../db/calls.js';
import type { RootSql } from '../../db/sql.js';
import { verifyCallToken } from '../call-token.js';
import type { CallRunner } from '../call-runner.js';
import { claimMediaStart } from '../media-claim.js';
import { closeUnauthenticated, frameBytes, malformedFrameCounter, onCallSocketGone, textFrameProblem, UnauthenticatedFrames } from '../socket-frames.js';
import { connectionAuthenticated } from '../../connection-guard.js';
import { decodeTwilioMessage } from './codec.js';
import { TwilioMediaTransport, type TwilioCallControl } from './media-transport.js';
import { isValidHandshakeSignature, publicWsUrl } from './signature.js';
import { MEDIA_PATH } from './voice-routes.js';

export interface MediaRouteDeps {
  sql: RootSql;
  authToken: string;
  publicOrigin: string;
  callTokenSecret: string;
  runner: CallRunner;
  metrics: Metrics;
  twilioControl: TwilioCallControl | null;
  /** How long a socket may stay unauthenticated. */
  startTimeoutMs?: number;
}

const POLICY_VIOLATION = 1008;

export function twilioMediaRoute(deps: MediaRouteDeps): FastifyPluginAsync {
  const wsUrl = publicWsUrl(deps.publicOrigin, MEDIA_PATH);
  return async (app) => {
    app.get(MEDIA_PATH, {
      websocket: true,
      schema: { hide: true } as object,
      preValidation: async (request, reply) => {
        const ok = !request.raw.url?.includes('?') && isValidHandshakeSignature(deps.authToken, request.headers['x-twilio-signature'], wsUrl);
        if (!ok) {
          request.log.warn('rejected a media-stream handshake with a bad Twilio signature');
          return reply.status(403).send({ error: { code: 'PARLEY_ERR_FORBIDDEN', message: 'Invalid Twilio signature' } });
        }
      },
    }, (socket: WebSocket, request) => {
      let transport: TwilioMediaTransport | null = null;
      let starting = false;
      const log = request.log;
      const bad = malformedFrameCounter(deps.metrics, 'twilio', log, 'media-stream');
      const refuse = (reason: string): void => closeUnauthenticated(socket, POLICY_VIOLATION, reason);
      /** A frame before start that is not `connected` or a valid start: counted, and the socket refused. */
      const badBeforeStart = (why: string): void => {
        bad(why);
        refuse('no valid start message');
      };
      const unauthenticated = new UnauthenticatedFrames();
      const startTimer = setTimeout(() => {
        if (!transport) refuse('no valid start message');
      }, deps.startTimeoutMs ?? 10_000);

      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (!transport) {
          const breach = unauthenticated.breach(frameBytes(data).byteLength, isBinary, starting);
          if (breach) {
            bad(breach);
            return socket.terminate();
          }
        }
        if (isBinary) return bad('binary frame');
        const bytes = frameBytes(data);
        // Hot path: media frames in Twilio's usual shape, read from the bytes (the transport; see receiveFrame).
        if (transport?.receiveFrame(bytes)) return;
        // Before start, a frame that is not `connected` or a valid start ends the socket; after it, it is counted.
        const onMalformed = transport || starting ? bad : badBeforeStart;
        const problem = textFrameProblem(bytes);
        if (problem) return onMalformed(problem);
        const decoded = decodeTwilioMessage(bytes.toString());
        if (!decoded.ok) return onMalformed(decoded.error);
        const message = decoded.message;
        if (transport) {
          if (message.event === 'start' || message.event === 'connected') return bad(`repeated ${message.event}`);
          transport.receive(message, decoded.sequence);
          return;
        }
        if (message.event === 'connected') return;
        // Frames racing the token check are dropped quietly: a few ms of audio before the greeting.
        if (starting) return message.event === 'start' ? bad('second start') : undefined;
        if (message.event !== 'start') return badBeforeStart(`${message.event} before start`);
        starting = true;
        void (async () => {
          const claims = verifyCallToken(deps.callTokenSecret, message.customParameters.token ?? '', 'twilio-media');
          // One stream per call, decided by the database: of two sockets racing with one token, one claims it.
          const claimed = claims ? await claimMediaStart(deps.sql, claims.callId, message.callSid) : false;
          const call = claimed && claims ? await getCallById(deps.sql, claims.callId) : undefined;
          const forCall = call?.bot_id ? await getBotForCall(deps.sql, call.bot_id) : undefined;
          if (!claims || !call || !forCall || call.twilio_call_sid !== message.callSid || !isLiveStatus(call.status)) {
            log.warn({ callSid: message.callSid, used: Boolean(claims) && !claimed }, 'media stream refused: bad, expired or already used token');
            refuse('unauthorised stream');
            return;
          }
          const { bot, callable } = forCall;
          if (!callable) {
            // Disabled (bot or company) between the voice webhook and the stream: the call does not start, and says
            // why (as the outbound answer and the web call do), rather than talking for a disabled company.
            log.warn({ callSid: message.callSid, botId: bot.id }, 'media stream refused: the bot or its company was disabled after the call was answered');
            if (call.company_id) {
              const companyId = call.company_id;
              await deps.sql.begin((tx) => endCallInTx(tx, { callId: call.id, companyId }, { status: 'canceled', reason: 'bot_disabled: the bot or its company was disabled before the call started' }, { by: 'session', durationSec: 0 }));
            }
            refuse('the bot or its company is disabled');
            return;
          }
          if (socket.readyState !== socket.OPEN) return;
          clearTimeout(startTimer);
          connectionAuthenticated(request.raw.socket);
          transport = new TwilioMediaTransport(socket, message.streamSid, message.callSid, deps.twilioControl, bad, request.raw.socket);
          const t = transport;
          onCallSocketGone(socket, (reason, end) => t.socketClosed(reason, end));
          await deps.runner.run(t, call, bot);
          await recordSequenceGaps(deps, call.id, t.sequence, log);
          if (socket.readyState === socket.OPEN) socket.close(1000, 'call ended');
        })().catch((err: unknown) => {
          log.error({ err }, 'media stream failed');
          if (!transport) closeUnauthenticated(socket, 1011, 'internal error');
          else socket.close(1011, 'internal error');
        });
      });
      socket.on('error', (err) => log.warn({ err: err.message }, 'media socket error'));
      socket.on('close', () => clearTimeout(startTimer));
    });
  };
}

/**
 * The stream's lost messages, once, as its call ends: on the call row (null for calls before this count, and web
 * calls) and in the metrics. Never per frame; a failure to store them is logged, the call is over either way.
 */
async function recordSequenceGaps(deps: Pick<MediaRouteDeps, 'sql' | 'metrics'>, callId: string, seen: SequenceGaps, log: FastifyBaseLogger): Promise<void> {
  if (seen.gaps > 0) {
    deps.metrics.mediaSequenceGaps.inc(seen.gaps);
    deps.metrics.mediaMessagesLost.inc(seen.lost);
    log.warn({ callId, gaps: seen.gaps, lost: seen.lost }, 'the media stream skipped sequence numbers: messages Twilio never sent');
  }
  await deps.sql`update calls set media_sequence_gaps = ${seen.gaps}, media_messages_lost = ${seen.lost} where id = ${callId}`
    .catch((err: unknown) => log.warn({ err, callId }, 'storing the media stream\'s sequence gaps failed'));
}
