/**
 * The README and docs/ keep step with the API: every operation in /openapi.json is named in them (`METHOD /path`,
 * a parameter written any usual way — `{id}`, `:id`, `<bot id>`, `$BOT` — or as a curl command of the walkthroughs),
 * and every `pattern` a schema checks has the words its 400 says instead of the regular expression. Before, a
 * newcomer found `DELETE /v1/api-keys/{id}` (revoking a key) only in /openapi.json.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATTERN_TEXT } from '../../src/api/validation-message.js';
import { bookingRoutes } from '../../src/api/routes/bookings.js';
import { campaignRoutes } from '../../src/api/routes/campaigns.js';
import { knowledgeRoutes } from '../../src/api/routes/knowledge.js';
import { outboundCallRoutes } from '../../src/api/routes/outbound-calls.js';
import { webCallRoutes } from '../../src/api/routes/web-calls.js';
import { webhookRoutes } from '../../src/api/routes/webhooks.js';
import { createBookingService } from '../../src/bookings/service.js';
import { knowledgeHarness } from '../fixtures/knowledge/kb.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const root = new URL('../../', import.meta.url);
const docs = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  .map((f) => readFileSync(new URL(f, root), 'utf8'))
  .join('\n');

const escape = (s: string) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
const PARAM = '(?:\\{[^}/\\s]+\\}|:[A-Za-z_]+|<[^>/]+>|\\$[A-Z_]+|%2B[0-9]+|\\+[0-9]+)';

/** Whether the docs name `METHOD path`, as prose (`POST /v1/bots`) or as a curl command (`-X POST host/v1/bots`). */
function documented(text: string, method: string, path: string): boolean {
  const route = path.split('/').map((part) => (/^\{.+\}$/.test(part) ? PARAM : escape(part))).join('/');
  const end = '(?![\\w/{:<$-])';
  const prose = new RegExp(`\\b(?:[A-Z]+/)*${method}(?:/[A-Z]+)*\`?\\s+\`?${route}${end}`);
  const curl = new RegExp(`curl\\b[^\\n]*${method === 'GET' ? '' : `-X ${method}\\b[^\\n]*`}["\\s][^\\s"]*${route}(?:["?\\s]|$)`, 'm');
  return prose.test(text) || (curl.test(text) && (method !== 'GET' || new RegExp(`curl(?![^\\n]*-X )[^\\n]*${route}(?:["?\\s]|$)`, 'm').test(text)));
}

interface OpenApi {
  paths: Record<string, Record<string, unknown>>;
}

function patterns(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) patterns(item, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'pattern' && typeof v === 'string') out.add(v);
      else patterns(v, out);
    }
  }
  return out;
}

describe('the docs cover the API', () => {
  let t: TestApp;
  let doc: OpenApi;
  beforeAll(async () => {
    // Every route group the server mounts (as tenant-isolation-ids.test.ts does), so the document is the whole API.
    t = await createTestApp({
      tenantRoutes: (db, config) => {
        const kb = knowledgeHarness(db.sql, { maxUploadBytes: config.UPLOAD_MAX_BYTES });
        return [
          bookingRoutes({ sql: db.sql, bookings: createBookingService({ holdSec: 300 }) }),
          campaignRoutes({ sql: db.sql, dialingAvailable: true }),
          knowledgeRoutes({ sql: db.sql, store: kb.store, retriever: kb.retriever, maxUploadBytes: config.UPLOAD_MAX_BYTES, onEnqueued: () => {} }),
          webCallRoutes({ sql: db.sql, publicOrigin: config.PUBLIC_URL, tokenTtlSec: config.WEB_CALL_TOKEN_TTL_SEC }),
          outboundCallRoutes({ sql: db.sql, dialer: null }),
          webhookRoutes({ sql: db.sql, delivery: { timeoutMs: 1000, allowHttp: false, allowPrivate: false } }),
        ];
      },
    });
    doc = (await t.app.inject({ url: '/openapi.json' })).json() as OpenApi;
  });
  afterAll(async () => t?.close());

  it('reads a route in each way the docs write one', () => {
    expect(documented('`GET /v1/bookings/:id/events`', 'GET', '/v1/bookings/{id}/events')).toBe(true);
    expect(documented('curl -s -X POST localhost:3000/v1/bots/<bot id>/knowledge -H x', 'POST', '/v1/bots/{id}/knowledge')).toBe(true);
    expect(documented('curl -s $P/v1/campaigns/$CAMPAIGN -H x', 'GET', '/v1/campaigns/{id}')).toBe(true);
    expect(documented('`GET/DELETE /v1/dnc/:number`', 'DELETE', '/v1/dnc/{number}')).toBe(true);
    expect(documented('`GET /v1/bookings/:id/events`', 'GET', '/v1/bookings/{id}')).toBe(false);
    expect(documented('curl -s -X POST localhost:3000/v1/bots -H x', 'GET', '/v1/bots')).toBe(false);
  });

  it('names every operation of /openapi.json', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.length).toBeGreaterThan(70);
    const missing = operations.filter((op) => {
      const [method, path] = op.split(' ') as [string, string];
      return !documented(docs, method, path);
    });
    expect(missing, 'operations the README and docs/ never name').toEqual([]);
  });

  it('has words for every pattern a schema checks', () => {
    const unexplained = [...patterns(doc, new Set())].filter((p) => !PATTERN_TEXT[p]);
    expect(unexplained, 'patterns whose 400 would quote the regular expression (add them to PATTERN_TEXT)').toEqual([]);
  });
});
