/**
 * PATCH /v1/bots/{id} replaces config whole: two editors who each read the bot and change one field lost the first
 * one's change to the second's save, silently. With the ETag of what they read as If-Match, the second save is a 412
 * that changes nothing, and re-read and re-applied it keeps both changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('two editors of one bot', () => {
  it('the second save of a stale read is refused (412), nothing lost; re-read, both changes are kept', async () => {
    const c = await t.createCompany();
    const created = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(c.apiKey), payload: botBody() });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const read = async () => {
      const res = await t.app.inject({ method: 'GET', url: `/v1/bots/${id}`, headers: t.as(c.apiKey) });
      return { etag: res.headers.etag as string, config: res.json().config as Record<string, unknown> };
    };
    const save = (etag: string | null, config: Record<string, unknown>) => t.app.inject({
      method: 'PATCH', url: `/v1/bots/${id}`, headers: { ...t.as(c.apiKey), ...(etag ? { 'if-match': etag } : {}) }, payload: { config },
    });

    const a = await read();
    const b = await read();
    expect(a.etag).toMatch(/^"[\w-]+"$/);
    const first = await save(a.etag, { ...a.config, greeting: 'Hello from editor A.' });
    expect(first.statusCode).toBe(200);
    expect(first.headers.etag).not.toBe(a.etag);

    const stale = await save(b.etag, { ...b.config, systemPrompt: 'Editor B prompt.' });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().error.code).toBe('PARLEY_ERR_PRECONDITION_FAILED');
    expect((await read()).config).toMatchObject({ greeting: 'Hello from editor A.' });

    const again = await read();
    const second = await save(again.etag, { ...again.config, systemPrompt: 'Editor B prompt.' });
    expect(second.statusCode).toBe(200);
    expect((await read()).config).toMatchObject({ greeting: 'Hello from editor A.', systemPrompt: 'Editor B prompt.' });

    // Without If-Match a save is taken as before; '*' matches any version.
    expect((await save(null, { ...again.config, greeting: 'No precondition.' })).statusCode).toBe(200);
    expect((await save('*', { ...again.config, greeting: 'Any version.' })).statusCode).toBe(200);
  });
});
