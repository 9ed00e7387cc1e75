/**
 * WS /web-call/socket: the browser web call. Outside the API-key context — the single-use token in the first
 * `start` message is the authorisation, checked together with the page's Origin before any audio is processed.
 * Single use twice over, both in the database: the token row is claimed, then the call's media start
 * (media-claim.ts), so one call never gets two sessions. Malformed frames — oversized (up to MAX_SOCKET_PAYLOAD),
 * invalid UTF-8, not JSON, unknown or incomplete messages, bad audio, unknown marks — are counted (and logged
 * once per call); they never end the call. Before the call, a stranger gets little: one small text `start`
 * (UnauthenticatedFrames; binary, oversized or more frames terminate the socket), within the start deadline; any
 * refusal is a close frame and, a second later, the connection cut (closeUnauthenticated).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Metrics } from '../../metrics.js';
import { getBotForCall } from '../../db/bots.js';
import { getCallById } from '../../db/calls.js';
import type { RootSql } from '../../db/sql.js';
import type { CallRunner } from '../call-runner.js';
import { claimMediaStart } from '../media-claim.js';
import { closeUnauthenticated, frameBytes, onCallSocketGone, textFrameProblem, UnauthenticatedFrames } from '../socket-frames.js';
import { connectionAuthenticated } from '../../connection-guard.js';
import { decodeWebClientMessage, encodeWebServerMessage } from './codec.js';
import { isOriginAllowed } from './origin.js';
import { claimWebCallToken, findWebCallToken } from './tokens.js';
import { WebCallTransport } from './web-transport.js';
import { endCallInTx, type CallEnd } from '../../call/lifecycle.js';
import { BUDGET_EXHAUSTED, type BudgetCheck } from '../../usage/budget.js';

export const WEB_CALL_SOCKET_PATH = '/web-call/socket';

export interface WebCallSocketDeps {
  sql: RootSql;
  runner: Pick<CallRunner, 'run'>;
  metrics: Metrics;
  /** PUBLIC_URL: the page Parley serves itself is always an allowed origin. */
  publicOrigin: string;
  /** How long a socket may stay unauthenticated. */
  startTimeoutMs?: number;
  /**
   * The company's monthly budget, checked again when the token is used: a token minted just before the budget ran
   * out (valid up to an hour) would otherwise open a call the budget no longer allows.
   */
  budget?: BudgetCheck;
}

const POLICY_VIOLATION = 1008;

export function webCallSocketRoute(deps: WebCallSocketDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(WEB_CALL_SOCKET_PATH, { websocket: true, schema: { hide: true } as object }, (socket: WebSocket, request) => {
      const log = request.log;
      const origin = request.headers.origin;
      let transport: WebCallTransport | null = null;
      let starting = false;
      let malformed = 0;
      const bad = (why: string): void => {
        malformed++;
        deps.metrics.malformedFrames.inc({ transport: 'web' });
        if (malformed === 1) log.warn({ why }, 'malformed or unexpected web-call frame (logged once per call)');
      };
      // Every exit of a socket that never authenticated: the error, a close frame, and the cut a second later.
      const refuse = (message: string): void => {
        if (socket.readyState === socket.OPEN) socket.send(encodeWebServerMessage({ type: 'error', code: 'PARLEY_ERR_UNAUTHORIZED', message }));
        closeUnauthenticated(socket, POLICY_VIOLATION, 'unauthorised');
      };
      /** A frame before start that is not a valid start: counted, and the socket refused. */
      const badBeforeStart = (why: string): void => {
        bad(why);
        refuse(`Expected a valid start message first (${why})`);
      };
      const unauthenticated = new UnauthenticatedFrames();
      const startTimer = setTimeout(() => {
        if (!transport) refuse('No valid start message');
      }, deps.startTimeoutMs ?? 10_000);

      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (!transport) {
          const breach = unauthenticated.breach(frameBytes(data).byteLength, isBinary, starting);
          if (breach) {
            bad(breach);
            return socket.terminate();
          }
        }
        if (isBinary) {
          // Microphone frames racing the token check are dropped quietly.
          if (transport) transport.receiveAudio(frameBytes(data));
          return;
        }
        // Before start, a frame that is not a valid start ends the socket; after it, such a frame is counted.
        const onMalformed = transport || starting ? bad : badBeforeStart;
        const bytes = frameBytes(data);
        const problem = textFrameProblem(bytes);
        if (problem) return onMalformed(problem);
        const decoded = decodeWebClientMessage(bytes.toString());
        if (!decoded.ok) return onMalformed(decoded.error);
        const message = decoded.message;
        if (transport) return transport.receive(message);
        if (starting) return message.type === 'start' ? bad('second start') : undefined;
        if (message.type !== 'start') return badBeforeStart(`${message.type} before start`);
        starting = true;
        void (async () => {
          const found = await findWebCallToken(deps.sql, message.token);
          const forCall = found ? await getBotForCall(deps.sql, found.bot_id) : undefined;
          if (!found || !forCall) return refuse('Unknown web-call token');
          const { bot, callable } = forCall;
          if (!isOriginAllowed(origin, bot.config.allowedOrigins, deps.publicOrigin)) {
            log.warn({ origin, botId: bot.id }, 'web call refused: origin not allowed for this bot');
            return refuse('This page is not allowed to open calls for this bot');
          }
          const claimed = await claimWebCallToken(deps.sql, message.token);
          if (!claimed) {
            log.warn({ botId: bot.id }, 'web call refused: token expired or already used');
            return refuse('Web-call token expired or already used');
          }
          // The token is spent: a call that does not start now never will. It is ended now (once; a no-op for a
          // call already ended), not left queued until the token's expiry and the sweep.
          const end = (result: CallEnd): Promise<boolean> =>
            deps.sql.begin((tx) => endCallInTx(tx, { callId: claimed.call_id, companyId: claimed.company_id }, result, { by: 'session', durationSec: 0 }));
          const call = await getCallById(deps.sql, claimed.call_id);
          if (!call || call.status !== 'queued' || !callable) {
            await end({ status: 'canceled', reason: callable ? 'not_started' : 'bot_disabled: the bot or its company is disabled' });
            return refuse('This call can no longer be started');
          }
          if ((await deps.budget?.status(bot.company_id))?.exhausted) {
            // Recorded as the company's call, ended at once with the reason, like a phone call refused for it.
            await end({ status: 'failed', reason: BUDGET_EXHAUSTED });
            log.info({ companyId: bot.company_id }, 'web call refused: the monthly budget is used up');
            return refuse('The monthly budget for calls is used up');
          }
          // The page went (or the start deadline passed) while the token was checked, or while the media was claimed.
          const pageLeft = async (): Promise<boolean> =>
            socket.readyState !== socket.OPEN && (await end({ status: 'canceled', reason: 'not_started: the page left before the call started' }), true);
          if (await pageLeft()) return;
          if (!(await claimMediaStart(deps.sql, call.id))) return refuse('This call can no longer be started');
          if (await pageLeft()) return;
          clearTimeout(startTimer);
          connectionAuthenticated(request.raw.socket);
          const t = new WebCallTransport(socket, bad);
          transport = t;
          onCallSocketGone(socket, (reason, end) => t.socketClosed(reason, end));
          socket.send(encodeWebServerMessage({ type: 'ready', call_id: call.id }));
          const session = await deps.runner.run(t, call, bot);
          t.finish(session.endReason ?? 'ended');
        })().catch((err: unknown) => {
          log.error({ err }, 'web call failed');
          if (!transport) closeUnauthenticated(socket, 1011, 'internal error');
          else if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error');
        });
      });
      socket.on('error', (err) => log.warn({ err: err.message }, 'web-call socket error'));
      socket.on('close', () => clearTimeout(startTimer));
    });
  };
}
