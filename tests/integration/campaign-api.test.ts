/**
 * the campaign, contact, consent and do-not-call API — validation at the boundary, CSV uploads
 * bounded, illegal transitions 409, tenant isolation, scopes on every route, OpenAPI.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_ROWS } from '../../src/campaigns/contacts.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('campaign API', () => {
  let h: Harness;
  let me: Awaited<ReturnType<Harness['company']>>;
  beforeAll(async () => {
    h = await campaignHarness();
    me = await h.company();
  });
  afterAll(async () => h.close());

  const csv = (apiKey: string, url: string, body: string) =>
    h.t.app.inject({ method: 'POST', url, headers: { ...h.t.as(apiKey), 'content-type': 'text/csv' }, payload: body });

  it('validates campaigns at the boundary', async () => {
    const base = { bot_id: me.botId, name: 'Follow-up' };
    const bad = [
      { ...base, windows: [{ days: [1], start: '20:00', end: '09:00' }] },
      { ...base, windows: [{ days: [8], start: '09:00', end: '17:00' }] },
      { ...base, windows: [{ days: [1], start: '9am', end: '17:00' }] },
      { ...base, voicemail: 'leave_message' },
      { ...base, starts_at: '2026-05-02T00:00:00Z', ends_at: '2026-05-01T00:00:00Z' },
      { ...base, ends_at: new Date(Date.now() - 60_000).toISOString() }, // ended before it was made
      { ...base, concurrency: 0 },
      { ...base, max_attempts: 11 },
      { ...base, surprise: true },
    ];
    for (const body of bad) {
      const res = await h.api(me.apiKey, 'POST', '/v1/campaigns', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('PARLEY_ERR_VALIDATION');
    }
    // A bot the company does not have is not found, as everywhere (tenant-isolation-ids.test.ts).
    expect((await h.api(me.apiKey, 'POST', '/v1/campaigns', { ...base, bot_id: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(404);
    const ok = await h.api(me.apiKey, 'POST', '/v1/campaigns', base);
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ status: 'draft', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '20:00' }], max_attempts: 3, voicemail: 'hang_up' });
  });

  it('moves through its states; illegal moves are 409', async () => {
    const id = (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'States' })).json().id;
    const act = (a: string) => h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/${a}`);
    expect((await act('schedule')).statusCode).toBe(409); // no contacts yet
    expect((await act('pause')).json().error.code).toBe('PARLEY_ERR_ILLEGAL_TRANSITION');
    expect((await act('resume')).statusCode).toBe(409);
    await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550301' }] });
    expect((await act('schedule')).json().status).toBe('scheduled');
    expect((await act('schedule')).statusCode).toBe(409);
    const edit = await h.api(me.apiKey, 'PUT', `/v1/campaigns/${id}`, { bot_id: me.botId, name: 'Renamed' });
    expect(edit.statusCode).toBe(409);
    expect((await act('cancel')).json().status).toBe('cancelled');
    for (const a of ['schedule', 'pause', 'resume', 'cancel']) expect((await act(a)).statusCode, a).toBe(409);

    // A draft whose end passed while it waited is not scheduled to skip everyone.
    const late = (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Late', ends_at: new Date(Date.now() + 60_000).toISOString() })).json().id;
    await h.api(me.apiKey, 'POST', `/v1/campaigns/${late}/contacts`, { contacts: [{ phone: '+12125550303' }] });
    await h.t.db.sql`update campaigns set ends_at = now() - interval '1 minute' where id = ${late}`;
    const refused = await h.api(me.apiKey, 'POST', `/v1/campaigns/${late}/schedule`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toMatch(/ends_at has passed/);
    const contacts = (await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}/contacts`)).json().data;
    expect(contacts).toMatchObject([{ phone: '+12125550301', state: 'skipped', skip_reason: 'campaign_cancelled' }]);
    expect((await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550302' }] })).statusCode).toBe(409);
  });

  it('takes contacts as JSON or CSV: numbers normalised, bad rows reported and not stored, bounded', async () => {
    const id = (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Upload' })).json().id;
    const json = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, {
      default_country: 'GB',
      contacts: [
        { phone: '020 7183 8750', name: 'Liam' },
        { phone: '+12125550311', time_zone: 'Mars/Olympus' },
        { phone: '12345' },
        { phone: '+12125550312', variables: { first_name: 'Ann' }, consent: { voice: 'granted', source: 'form' } },
        { phone: '+12125550312' },
      ],
    });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ received: 5, added: 2, duplicates: 1, rejected_count: 2 });
    expect(json.json().rejected.map((r: { row: number }) => r.row)).toEqual([2, 3]);
    const bad = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550313', variables: { 'First Name': 'x' } }] });
    expect(bad.json()).toMatchObject({ added: 0, rejected_count: 1, rejected: [{ row: 1, error: expect.stringContaining('variable names') }] });

    const body = 'phone,name,time_zone,appointment_time,consent_voice\n+12125550321,Ann Lee,America/New_York,Friday 3 pm,granted\nnot-a-number,Bob,,,\n+12125550322,"Smith, Jo",,,denied\n';
    const up = await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, body);
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json()).toMatchObject({ received: 3, added: 2, rejected_count: 1, rejected: [{ row: 2 }] });
    const rows = (await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}/contacts?limit=200`)).json().data;
    expect(rows.find((r: { phone: string }) => r.phone === '+12125550321')).toMatchObject({ name: 'Ann Lee', time_zone: 'America/New_York', variables: { appointment_time: 'Friday 3 pm' } });
    expect(rows.find((r: { phone: string }) => r.phone === '+442071838750')).toMatchObject({ name: 'Liam' });
    expect((await h.api(me.apiKey, 'GET', `/v1/contacts/${encodeURIComponent('+12125550322')}/consent`)).json().voice).toBe('denied');

    expect((await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, 'name\nAnn\n')).statusCode).toBe(400); // no phone column
    const twice = await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, 'phone,name,Phone\n+12125550371,Ann,+12125550372\n');
    expect(twice.statusCode).toBe(400);
    expect(twice.json().error.message).toContain('"phone" twice');
    expect((await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, 'phone,name\n"+1212555,x\n')).statusCode).toBe(400);
    const many = `phone\n${Array.from({ length: MAX_ROWS + 1 }, (_, i) => `+1212${String(5_000_000 + i)}`).join('\n')}\n`;
    const tooMany = await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, many);
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error.message).toContain(`${MAX_ROWS} rows`);
    const huge = await csv(me.apiKey, `/v1/campaigns/${id}/contacts/csv`, `phone,note\n+12125550399,${'x'.repeat(3 * 1024 * 1024)}\n`);
    expect(huge.statusCode).toBe(413);
    // As JSON, MAX_ROWS contacts with a name, a zone and a variable (~1.5 MB) are taken too, not a 413.
    const jsonMany = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, {
      contacts: Array.from({ length: MAX_ROWS }, (_, i) => ({ phone: `+1646${String(5_000_000 + i)}`, name: `Contact Number ${i}`, time_zone: 'America/New_York', variables: { appointment_time: 'Friday at 3 pm' } })),
    });
    expect(jsonMany.statusCode, jsonMany.body.slice(0, 200)).toBe(200);
    expect(jsonMany.json()).toMatchObject({ received: MAX_ROWS, rejected_count: 0 });
    // Sent as text/plain, a CSV gets the same checks, and a NUL is named as such (not as a too-long name).
    for (const path of [`/v1/campaigns/${id}/contacts/csv`, '/v1/dnc/csv']) {
      const nul = await h.t.app.inject({ method: 'POST', url: path, headers: { ...h.t.as(me.apiKey), 'content-type': 'text/plain' }, payload: 'phone,name\n+12125550398,A\u0000nn\n' });
      expect(nul.statusCode, nul.body).toBe(400);
      expect(nul.json().error.message).toBe('CSV contains a NUL character');
    }
  }, 60_000); // eight uploads, each on a thread of its own (which loads tsx in the tests)

  describe('the JSON uploads (contacts, do-not-call) are parsed and validated on the upload thread, with the same answers', () => {
    const send = (url: string, payload: string, contentType = 'application/json') =>
      h.t.app.inject({ method: 'POST', url, headers: { ...h.t.as(me.apiKey), 'content-type': contentType }, payload });
    const draft = async () => (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'JSON upload' })).json().id as string;

    it('never parses the body on the event loop', async () => {
      const id = await draft();
      const contacts = JSON.stringify({ contacts: Array.from({ length: MAX_ROWS }, (_, i) => ({ phone: `+1646${String(6_000_000 + i)}`, name: `Contact ${i}` })) });
      const numbers = JSON.stringify({ numbers: Array.from({ length: MAX_ROWS }, (_, i) => ({ phone: `+1646${String(7_000_000 + i)}`, reason: 'asked' })) });
      const parse = vi.spyOn(JSON, 'parse');
      try {
        const up = await send(`/v1/campaigns/${id}/contacts`, contacts);
        expect(up.statusCode, up.body).toBe(200);
        expect(up.json()).toMatchObject({ received: MAX_ROWS, added: MAX_ROWS, rejected_count: 0 });
        const dnc = await send('/v1/dnc', numbers);
        expect(dnc.statusCode, dnc.body).toBe(200);
        expect(dnc.json()).toMatchObject({ received: MAX_ROWS, added: MAX_ROWS, rejected_count: 0 });
        const onTheLoop = parse.mock.calls.filter(([text]) => text === contacts || text === numbers);
        expect(onTheLoop).toHaveLength(0);
      } finally {
        parse.mockRestore();
      }
    }, 120_000);

    // Each refused body is a thread started (under tsx in the tests, ~1 s on a busy machine): the one check of the
    // body both routes share (upload-body.ts) is shown in full on one, and its answers on the other.
    it('a body that is not JSON, too deep, or unstorable is a clear 400', async () => {
      const id = await draft();
      const notJson = { code: 'PARLEY_ERR_VALIDATION', message: 'Body is not valid JSON' };
      const nul = JSON.stringify({ contacts: [{ phone: '+12125550601', name: 'A\u0000nn' }] }); // stringify writes the NUL as \u0000
      const nulError = { code: 'PARLEY_ERR_VALIDATION', message: 'body.contacts.0.name contains a NUL character', details: { field: 'body.contacts.0.name' } };
      const res = await send(`/v1/campaigns/${id}/contacts`, '{"contacts": [');
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toEqual(notJson);
      const proto = await send(`/v1/campaigns/${id}/contacts`, '{"__proto__": {"x": 1}}');
      expect(proto.json().error).toEqual({ code: 'PARLEY_ERR_VALIDATION', message: 'body has a key named __proto__: keys that would reach an object\'s prototype are refused', details: { field: 'body' } });
      const empty = await send(`/v1/campaigns/${id}/contacts`, '');
      expect(empty.json().error).toEqual({ code: 'PARLEY_ERR_VALIDATION', message: 'The body is empty but content-type says JSON: send a JSON body, or no content-type' });
      const deep = await send(`/v1/campaigns/${id}/contacts`, `${'['.repeat(40)}${']'.repeat(40)}`);
      expect(deep.json().error).toEqual({ code: 'PARLEY_ERR_VALIDATION', message: 'Body is nested deeper than 32 levels' });
      expect((await send(`/v1/campaigns/${id}/contacts`, nul)).json().error).toEqual(nulError);
      const none = await h.t.app.inject({ method: 'POST', url: `/v1/campaigns/${id}/contacts`, headers: h.t.as(me.apiKey) });
      expect(none.json().error).toEqual({ code: 'PARLEY_ERR_VALIDATION', message: 'body must be an object ({…})', details: { field: 'body' } });
      expect((await send('/v1/dnc', '{"numbers": [')).json().error).toEqual(notJson);
      expect((await send('/v1/dnc', nul)).json().error).toEqual(nulError);
      // JSON is what these routes take: a CSV goes to the /csv routes.
      for (const url of [`/v1/campaigns/${id}/contacts`, '/v1/dnc']) expect((await send(url, 'phone\n+12125550602\n', 'text/csv')).statusCode).toBe(415);
    }, 120_000);

    it("a row that breaks the body's schema is a 400 naming the row and field; nothing is stored", async () => {
      const id = await draft();
      const fine = (i: number) => ({ phone: `+1212555${String(700 + i)}` });
      const cases: [string, unknown, { message: string; field: string }][] = [
        [`/v1/campaigns/${id}/contacts`, { contacts: [fine(0), fine(1), { phone: '+1'.padEnd(41, '0') }] }, { message: 'body.contacts.2.phone must be at most 40 characters long', field: 'body.contacts.2.phone' }],
        [`/v1/campaigns/${id}/contacts`, { contacts: [fine(0), { phone: '+12125550603', consent: { voice: 'maybe' } }] }, { message: 'body.contacts.1.consent.voice must be one of: granted, denied, unknown', field: 'body.contacts.1.consent.voice' }],
        [`/v1/campaigns/${id}/contacts`, { contacts: [fine(0)], extra: 1 }, { message: 'body.extra is not a field of body (unknown fields are refused)', field: 'body.extra' }],
        [`/v1/campaigns/${id}/contacts`, { contacts: [] }, { message: 'body.contacts must list at least one item', field: 'body.contacts' }],
        ['/v1/dnc', { numbers: [fine(0), { phone: '+12125550604', why: 'x' }] }, { message: 'body.numbers.1.why is not a field of body.numbers.1 (unknown fields are refused)', field: 'body.numbers.1.why' }],
        ['/v1/dnc', { numbers: [fine(0)], default_country: 'usa' }, { message: 'body.default_country must be a two-letter country code in capitals (ISO 3166: US)', field: 'body.default_country' }],
      ];
      for (const [url, body, { message, field }] of cases) {
        const res = await send(url, JSON.stringify(body));
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json().error).toEqual({ code: 'PARLEY_ERR_VALIDATION', message, details: { field } });
      }
      expect((await h.api(me.apiKey, 'GET', `/v1/campaigns/${id}/contacts`)).json().data).toEqual([]);
      expect((await h.api(me.apiKey, 'GET', `/v1/dnc/${encodeURIComponent('+12125550700')}`)).statusCode).toBe(404);
    }, 120_000);

    it('documents the bodies in the API document as before', async () => {
      const doc = (await h.t.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };
      expect(doc.paths['/v1/campaigns/{id}/contacts']!.post!.requestBody!.content['application/json']!.schema.required).toEqual(['contacts']);
      expect(doc.paths['/v1/dnc']!.post!.requestBody!.content['application/json']!.schema.required).toEqual(['numbers']);
    });

    it('keeps the body limits: 4 MiB of contacts, 1 MiB of numbers', async () => {
      const id = await draft();
      const pad = (bytes: number) => JSON.stringify({ contacts: [{ phone: '+12125550605', name: 'x'.repeat(bytes) }] });
      expect((await send(`/v1/campaigns/${id}/contacts`, pad(4 * 1024 * 1024))).statusCode).toBe(413);
      expect((await send('/v1/dnc', JSON.stringify({ numbers: [{ phone: '+12125550606', reason: 'x'.repeat(1024 * 1024) }] }))).statusCode).toBe(413);
      // Under the limit, the too-long name is the row's schema error, not a 413.
      expect((await send(`/v1/campaigns/${id}/contacts`, pad(3 * 1024 * 1024))).json().error.details).toEqual({ field: 'body.contacts.0.name' });
    });
  });

  it('imports the do-not-call list from CSV and pages it; removes a number', async () => {
    const res = await csv(me.apiKey, '/v1/dnc/csv', 'phone,reason\n+12125550401,complaint\n+12125550402,\nbad,\n');
    expect(res.json()).toMatchObject({ received: 3, added: 2, rejected_count: 1 });
    const first = (await h.api(me.apiKey, 'GET', '/v1/dnc?limit=1')).json();
    expect(first.data).toHaveLength(1);
    const second = (await h.api(me.apiKey, 'GET', `/v1/dnc?limit=1&cursor=${first.next_cursor}`)).json();
    expect(second.data).toHaveLength(1);
    expect(second.data[0].phone).not.toBe(first.data[0].phone);
    expect((await h.api(me.apiKey, 'DELETE', `/v1/dnc/${encodeURIComponent('+12125550401')}`)).statusCode).toBe(204);
    expect((await h.api(me.apiKey, 'GET', `/v1/dnc/${encodeURIComponent('+12125550401')}`)).statusCode).toBe(404);
    expect((await h.api(me.apiKey, 'GET', '/v1/dnc?cursor=garbage')).statusCode).toBe(400);
  });

  it('keeps companies apart', async () => {
    const other = await h.company();
    const id = (await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Mine' })).json().id;
    await h.api(me.apiKey, 'POST', '/v1/dnc', { numbers: [{ phone: '+12125550501' }] });
    for (const [method, url] of [['GET', `/v1/campaigns/${id}`], ['GET', `/v1/campaigns/${id}/contacts`], ['GET', `/v1/campaigns/${id}/attempts`], ['POST', `/v1/campaigns/${id}/schedule`], ['POST', `/v1/campaigns/${id}/cancel`]] as const) {
      expect((await h.api(other.apiKey, method, url)).statusCode, url).toBe(404);
    }
    expect((await h.api(other.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550502' }] })).statusCode).toBe(404);
    expect((await h.api(other.apiKey, 'GET', '/v1/campaigns')).json().data).toEqual([]);
    expect((await h.api(other.apiKey, 'GET', `/v1/dnc/${encodeURIComponent('+12125550501')}`)).statusCode).toBe(404);
    // Another company's bot cannot run my campaign.
    expect((await h.api(other.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Theirs' })).statusCode).toBe(404);
  });

  it('every campaign, contact and dnc route is in the API document and needs its scope', async () => {
    const doc = (await h.t.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => /^\/v1\/(campaigns|campaign-policy|dnc|contacts)/.test(path))
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['get', 'post', 'put', 'delete'].includes(m)).map((m) => [m.toUpperCase(), path] as const));
    expect(routes.length).toBeGreaterThanOrEqual(18);
    const key = await h.api(me.apiKey, 'POST', '/v1/api-keys', { name: 'calls only', scopes: ['calls:read', 'bots:*'] });
    const open: string[] = [];
    for (const [method, path] of routes) {
      const url = path.replace(/\{number\}/g, '+15550100999').replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
      const res = await h.api(key.json().key, method as 'GET', url);
      if (res.statusCode !== 403) open.push(`${method} ${path} → ${res.statusCode}`);
    }
    expect(open).toEqual([]);
    const reader = await h.api(me.apiKey, 'POST', '/v1/api-keys', { name: 'reader', scopes: ['campaigns:read'] });
    expect((await h.api(reader.json().key, 'GET', '/v1/campaigns')).statusCode).toBe(200);
    expect((await h.api(reader.json().key, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'x' })).statusCode).toBe(403);
  });
});
