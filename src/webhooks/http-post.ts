/**
 * One webhook POST: guarded DNS (see url-guard), a hard timeout over the whole exchange, no redirects followed,
 * at most `maxResponseBytes` of the answer read. Never throws; every outcome is a PostResult.
 *
 * The status line decides the outcome, not the body: a 2xx is the receiver's acceptance the moment its status and
 * headers arrive, so its body is read only briefly (SUCCESS_BODY_WAIT_MS, for the excerpt) and the exchange ends
 * there; an answer whose body outlasts the timeout is recorded with its status, not as a timeout. (A 2xx whose
 * body never finished was once recorded as a timeout and sent again until dead, though it had been accepted.)
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import { checkConnectAddress, guardedLookup } from './url-guard.js';
import { storableText } from '../util/storable-text.js';

export interface PostOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  allowHttp: boolean;
  /** Response bytes read at most; the rest is discarded (default 64 KiB). */
  maxResponseBytes?: number;
}

export interface PostResult {
  /** Null when no HTTP response arrived. */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** From a Retry-After header, in milliseconds from now. */
  retryAfterMs: number | null;
  responseExcerpt: string | null;
}

const EXCERPT_CHARS = 1024;
/** How long the body of a 2xx is read, at most, for its excerpt: the status already said it was accepted. */
export const SUCCESS_BODY_WAIT_MS = 200;

export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

export class WebhookHttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: PostOptions) {
    const lookup = guardedLookup(options.allowPrivate);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64, lookup } as http.AgentOptions);
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, lookup } as https.AgentOptions);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  post(rawUrl: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<PostResult> {
    const started = performance.now();
    // The receiver's words (its body, an error naming what it sent) are stored with the attempt: as PostgreSQL can
    // store them, else a NUL in a 200's body failed the bookkeeping and the event was sent again for ever.
    const done = (r: Omit<PostResult, 'latencyMs'>): PostResult => ({
      ...r,
      error: r.error === null ? null : storableText(r.error),
      responseExcerpt: r.responseExcerpt === null ? null : storableText(r.responseExcerpt),
      latencyMs: Math.round(performance.now() - started),
    });
    const fail = (error: string) => done({ statusCode: null, error, retryAfterMs: null, responseExcerpt: null });

    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return Promise.resolve(fail('invalid URL'));
    }
    const isHttps = url.protocol === 'https:';
    if (!isHttps && !(url.protocol === 'http:' && this.options.allowHttp)) return Promise.resolve(fail(`${url.protocol} URLs are not allowed`));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      try {
        checkConnectAddress(host, host, this.options.allowPrivate);
      } catch (e) {
        return Promise.resolve(fail((e as Error).message));
      }
    }
    const maxBytes = this.options.maxResponseBytes ?? 64 * 1024;

    return new Promise<PostResult>((resolve) => {
      let settled = false;
      // Set once the status line and headers arrived: ends the exchange with that status, whatever the body does.
      let answered: (() => void) | null = null;
      let successBodyTimer: NodeJS.Timeout | undefined;
      const finish = (r: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(successBodyTimer);
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const req = (isHttps ? https : http).request(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          lookup: guardedLookup(this.options.allowPrivate),
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'Parley-Webhooks/1',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const statusCode = res.statusCode ?? 0;
          const retryAfterMs = parseRetryAfter(res.headers['retry-after'] as string | undefined);
          const ok = statusCode >= 200 && statusCode < 300;
          const complete = () => {
            const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS);
            finish(done({ statusCode, error: ok ? null : `HTTP ${statusCode}`, retryAfterMs, responseExcerpt: excerpt || null }));
          };
          answered = () => {
            complete();
            res.destroy();
          };
          // Accepted: what of the body arrives within a moment is the excerpt; a body that never ends is not waited for.
          if (ok) successBodyTimer = setTimeout(answered, SUCCESS_BODY_WAIT_MS);
          res.on('data', (chunk: Buffer) => {
            if (size >= maxBytes) return;
            const room = maxBytes - size;
            chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
            size += Math.min(chunk.length, room);
            if (size >= maxBytes) {
              // Enough read: the status code is what counts; drop the connection rather than drain a huge body.
              complete();
              res.destroy();
            }
          });
          res.on('end', complete);
          res.on('error', () => complete());
          res.on('aborted', () => complete());
        },
      );
      const timer = setTimeout(() => {
        if (answered) return answered();
        req.destroy();
        finish(fail(`timed out after ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      const onAbort = () => {
        // An answer already came (its body was still being read): that answer is the outcome, not the abort.
        if (answered) return answered();
        req.destroy();
        finish(fail('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket: Socket) => {
        // Belt and braces: check the peer actually connected to, whatever path resolved it (reused
        // keep-alive sockets were checked when they connected).
        if (!socket.connecting) return;
        socket.once('connect', () => {
          try {
            if (socket.remoteAddress) checkConnectAddress(host, socket.remoteAddress, this.options.allowPrivate);
          } catch (e) {
            req.destroy(e as Error);
          }
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(fail(err.code && err.code !== 'EUNSAFEADDRESS' ? `${err.code}: ${err.message}` : err.message)));
      req.end(body);
    });
  }
}
