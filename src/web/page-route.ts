/**
 * Parley's own web-call page: GET /call (paste a token) and GET /call/:botId (the link returned when a token is
 * minted, token in the URL fragment), plus its static files under /call-assets/. Plain files, no build step,
 * read once at start.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const ASSETS: Record<string, string> = {
  'call.js': 'text/javascript; charset=utf-8',
  'capture-worklet.js': 'text/javascript; charset=utf-8',
  'playback-worklet.js': 'text/javascript; charset=utf-8',
  'call.css': 'text/css; charset=utf-8',
};

export interface WebCallPageDeps {
  /** Defaults to src/web/public. */
  publicDir?: string;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  // Not framed by other sites: a framing page could click "Start call" for the visitor (clickjacking), and the
  // framed page's socket would pass the bot's allowedOrigins check as Parley's own origin.
  "frame-ancestors 'none'",
].join('; ');

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('permissions-policy', 'microphone=(self)')
    .header('cache-control', 'no-store');
}

export function webCallPageRoute(deps: WebCallPageDeps = {}): FastifyPluginAsync {
  const dir = deps.publicDir ?? PUBLIC_DIR;
  const html = readFileSync(`${dir}/index.html`);
  const assets = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(`${dir}/${name}`)]));
  return async (app) => {
    const page = async (_request: unknown, reply: FastifyReply) => secure(reply).type('text/html; charset=utf-8').send(html);
    app.get('/call', { schema: { hide: true } as object }, page);
    app.get('/call/:botId', { schema: { hide: true } as object }, page);
    app.get('/call-assets/:name', { schema: { hide: true } as object }, async (request, reply) => {
      const { name } = request.params as { name: string };
      const body = assets.get(name);
      if (!body) return reply.status(404).send({ error: { code: 'PARLEY_ERR_NOT_FOUND', message: 'Not found' } });
      return secure(reply).type(ASSETS[name]!).send(body);
    });
  };
}
