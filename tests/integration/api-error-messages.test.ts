/**
 * The 4xx a newcomer following the README hits first says what to do: which field, in words rather than the
 * schema's regular expression, and how to send a key. Before, a bad phone number answered `must match pattern
 * "^\+[1-9]\d{6,14}$", must be null, must match a schema in anyOf`, an unknown config field `must NOT have additional
 * properties` without naming it, a date `must match pattern "^(?!0000)[0-9]{4}-"`, and every authentication miss
 * `Missing or invalid API key` — the same for a key sent without `Bearer`, for no header at all, and for the admin
 * token sent to a company route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, botBody, createTestApp, type TestApp } from '../helpers/app.js';

describe('error messages say what to do', () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await createTestApp();
    key = (await t.createCompany('Bright Smile Salon')).apiKey;
  });
  afterAll(async () => t.close());

  const error = async (method: 'GET' | 'POST', url: string, options: { payload?: string; headers?: Record<string, string> } = {}) => {
    const res = await t.app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...options.headers }, ...(options.payload !== undefined ? { payload: options.payload } : {}) });
    return { status: res.statusCode, ...(res.json() as { error: { code: string; message: string; details?: { field?: string } } }).error };
  };
  const post = (url: string, body: unknown) => error('POST', url, { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  it('schema failures name the field in words, never a regular expression or anyOf noise', async () => {
    const cases: [Promise<{ status: number; message: string; details?: { field?: string } }>, string, string][] = [
      [post('/v1/bots', botBody({ phone_number: '555-0100' })), 'body.phone_number must be a phone number in E.164 (+, country code, number: +15551234567), or null', 'body.phone_number'],
      [post('/v1/bots', botBody({ config: { greeting: 'Hi', system_prompt: 'x' } })), 'body.config.system_prompt is not a field of body.config (unknown fields are refused)', 'body.config.system_prompt'],
      [error('GET', '/v1/calls/<id>'), 'params.id must be a UUID (such as 3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e)', 'params.id'],
      [error('GET', '/v1/calls?from=yesterday'), 'querystring.from must be a date-time in RFC 3339 (2026-12-01T09:00:00Z)', 'querystring.from'],
      [error('GET', '/v1/calls?limit=500'), 'querystring.limit must be at most 200', 'querystring.limit'],
      [error('GET', '/v1/calls?limit=0'), 'querystring.limit must be at least 1', 'querystring.limit'],
      [error('GET', '/v1/calls?limit=1.5'), 'querystring.limit must be a whole number', 'querystring.limit'],
      [post('/v1/bots', botBody({ name: '' })), 'body.name must not be empty', 'body.name'],
      [post('/v1/bots', botBody({ name: 'x'.repeat(201) })), 'body.name must be at most 200 characters long', 'body.name'],
      [post('/v1/bots', botBody({ name: 12 })), 'body.name must be text (a JSON string)', 'body.name'],
      [post('/v1/bots', botBody({ config: { greeting: 'Hi', systemPrompt: 'x', limits: { maxCallSec: 60.5 } } })), 'body.config.limits.maxCallSec must be a whole number', 'body.config.limits.maxCallSec'],
      [post('/v1/bots', botBody({ config: { greeting: 'Hi', systemPrompt: 'x', limits: [] } })), 'body.config.limits must be an object ({…})', 'body.config.limits'],
      [post('/v1/api-keys', { name: 'k', scopes: [] }), 'body.scopes must list at least one item', 'body.scopes'],
      [post('/v1/api-keys', { name: 'k', scopes: ['calls:read', 'calls:read'] }), 'body.scopes must not list the same item twice (items 0 and 1 are the same)', 'body.scopes'],
      [error('GET', '/v1/calls?bot=x'), 'querystring.bot is not a parameter of this route (unknown parameters are refused)', 'querystring.bot'],
      [post('/v1/bots', { name: 'x' }), "body.config is required", 'body.config'],
    ];
    for (const [answer, message, field] of cases) {
      const e = await answer;
      expect(e.status).toBe(400);
      expect({ message: e.message, field: e.details?.field }).toEqual({ message, field });
    }
  });

  it('an empty JSON body says so', async () => {
    const e = await error('POST', '/v1/bots', { payload: '', headers: { 'content-type': 'application/json' } });
    expect(e).toEqual({ status: 400, code: 'PARLEY_ERR_VALIDATION', message: 'The body is empty but content-type says JSON: send a JSON body, or no content-type' });
  });

  it('a refused credential says how to send one, without telling a guesser which part was wrong', async () => {
    const as = (authorization: string | undefined, url = '/v1/bots') => error('GET', url, { headers: authorization === undefined ? { authorization: '' } : { authorization } });
    const send = 'send it as the header authorization: Bearer pk_…';
    expect(await as(undefined)).toMatchObject({ status: 401, message: `No API key: ${send}` });
    expect(await as(key)).toMatchObject({ status: 401, message: `The authorization header must be "Bearer <API key>": ${send}` });
    expect(await as(`Bearer ${ADMIN_TOKEN}`)).toMatchObject({ status: 401, message: 'That is not an API key (they look like pk_<8 hex>_<43 characters>); the admin token is only for /v1/admin' });
    const unknown = `pk_00000000_${'x'.repeat(43)}`;
    expect(await as(`Bearer ${unknown}`)).toMatchObject({ status: 401, message: 'Invalid API key: unknown, revoked or expired' });
    expect(await as(`Bearer ${key}`, '/v1/admin/companies')).toMatchObject({ status: 401, message: 'An API key does not open this route: send the admin token (ADMIN_TOKEN, or the file DATA_DIR/admin-token)' });
    expect(await as(undefined, '/v1/admin/companies')).toMatchObject({ status: 401, message: 'No admin token: send it as the header authorization: Bearer <admin token>' });
    expect(await as('Bearer not-the-token', '/v1/admin/companies')).toMatchObject({ status: 401, message: 'Invalid admin token' });
  });
});
