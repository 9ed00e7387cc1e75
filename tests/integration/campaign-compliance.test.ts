/**
 * suppression checked at dial time — frequency caps across two campaigns, a do-not-call entry
 * added mid-campaign, consent, blocked prefixes; the in-call do_not_call tool; voicemail left vs hung up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personalizeForContact } from '../../src/campaigns/personalize.js';
import { callScreeningTool, doNotCallTool } from '../../src/campaigns/tools.js';
import { getBotById } from '../../src/db/bots.js';
import type { CallContext, CallControl } from '../../src/call/tool-types.js';
import { ALWAYS, campaignHarness, contactRow, type Harness } from './campaign-harness.js';

describe('campaign compliance', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  it('frequency caps hold across two campaigns of the company, per callee-local day and week', async () => {
    const { apiKey, botId } = await h.company();
    expect((await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 2, blocked_prefixes: [] })).statusCode).toBe(200);
    h.clock.set('2026-04-06T14:00:00Z'); // Monday, 10:00 in New York
    const phone = '+12125550201';
    const contact = { phone, time_zone: 'America/New_York' };
    const windows = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '20:00' }];
    const a = await h.campaign(apiKey, botId, { windows, max_attempts: 5, retry_spacing_sec: 60 }, [contact]);
    const b = await h.campaign(apiKey, botId, { windows, max_attempts: 5, retry_spacing_sec: 60 }, [contact]);
    const [s1, s2] = [h.scheduler(), h.scheduler()];
    await Promise.all([s1.runOnce(), s2.runOnce()]);
    expect(h.dialsTo(phone)).toBe(1); // one of the two campaigns got the day's call
    const rows = [await contactRow(h, a, phone), await contactRow(h, b, phone)];
    const waiting = rows.find((r) => r.state === 'pending')!;
    expect(waiting.deferred_reason).toBe('daily_cap');
    expect(waiting.next_attempt_at.toISOString()).toBe('2026-04-07T13:00:00.000Z'); // Tuesday 09:00 EDT
    await h.endCall(phone, 'no-answer');
    h.clock.set('2026-04-06T23:30:00Z'); // still Monday 19:30 in New York: no second call today
    await Promise.all([s1.runOnce(), s2.runOnce()]);
    expect(h.dialsTo(phone)).toBe(1);
    h.clock.set('2026-04-07T13:00:00Z');
    await Promise.all([s1.runOnce(), s2.runOnce()]);
    expect(h.dialsTo(phone)).toBe(2);
    await h.endCall(phone, 'no-answer');
    h.clock.set('2026-04-08T13:00:00Z'); // Wednesday: the weekly cap (2) is reached until Monday's call ages out
    await Promise.all([s1.runOnce(), s2.runOnce()]);
    expect(h.dialsTo(phone)).toBe(2);
    const after = [await contactRow(h, a, phone), await contactRow(h, b, phone)].filter((r) => r.state === 'pending');
    expect(after.map((r) => r.deferred_reason)).toContain('weekly_cap');
    expect(after.find((r) => r.deferred_reason === 'weekly_cap')!.next_attempt_at.toISOString()).toBe('2026-04-13T13:00:00.000Z');
    const [v] = await h.t.db.sql`
      select max(n)::int as worst from (select local_day, count(*) as n from campaign_attempts where phone = ${phone} and counted group by local_day) d`;
    expect(v!.worst).toBe(1);
  });

  it('a contact of several zones keeps the daily cap in each: its day is the day in the zone it may be in', async () => {
    const { apiKey, botId } = await h.company();
    expect((await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 5, blocked_prefixes: [] })).statusCode).toBe(200);
    // Perth's 08 area code, without a time_zone: Adelaide (UTC+9:30 after 5 April) or Perth (UTC+8).
    const phone = '+61881234567';
    h.clock.set('2026-04-08T12:00:00Z'); // Wednesday 21:30 in Adelaide, 20:00 in Perth
    const id = await h.campaign(apiKey, botId, { windows: ALWAYS, max_attempts: 5, retry_spacing_sec: 60 }, [{ phone }]);
    const s = h.scheduler();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    await h.endCall(phone, 'no-answer');
    await s.tick();
    // 00:30 Thursday in Adelaide, but still 23:00 Wednesday in Perth: a callee in Perth was called today.
    h.clock.set('2026-04-08T15:00:00Z');
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const row = await contactRow(h, id, phone);
    expect(row).toMatchObject({ state: 'pending', deferred_reason: 'daily_cap' });
    expect(row.next_attempt_at.toISOString()).toBe('2026-04-08T16:00:00.000Z'); // Thursday 00:00 in Perth
    h.clock.set('2026-04-08T16:00:00Z');
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(2);
  });

  it('a number put on the do-not-call list mid-campaign is not called again; the skip says why', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    h.clock.set('2026-04-14T15:00:00Z');
    const phone = '+12125550211';
    const id = await h.campaign(apiKey, botId, { max_attempts: 3, retry_spacing_sec: 600 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    await h.endCall(phone, 'no-answer');
    await s.runOnce();
    const add = await h.api(apiKey, 'POST', '/v1/dnc', { numbers: [{ phone, reason: 'asked by email' }] });
    expect(add.json()).toMatchObject({ added: 1 });
    h.clock.advance(600_000);
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'skipped', skip_reason: 'do_not_call', attempts: 1 });
    const [ev] = await h.t.db.sql`select body from webhook_events where type = 'campaign.contact.skipped' and ordering_key = ${id}`;
    expect(JSON.parse(ev!.body as string).data).toMatchObject({ campaign_id: id, phone, reason: 'do_not_call' });
    expect((await h.api(apiKey, 'GET', `/v1/dnc/${encodeURIComponent(phone)}`)).json()).toMatchObject({ phone, source: 'api', reason: 'asked by email' });
  });

  it('consent rides in a contact upload only for a key that may write consent (contacts:write); without it nothing is stored', async () => {
    const { apiKey, botId } = await h.company();
    const phone = '+12125550231';
    await h.api(apiKey, 'PUT', `/v1/contacts/${encodeURIComponent(phone)}/consent`, { voice: 'denied', source: 'sms STOP' });
    const keyWith = async (scopes: string[]) => (await h.api(apiKey, 'POST', '/v1/api-keys', { name: scopes.join(' '), scopes })).json().key as string;
    const campaignsOnly = await keyWith(['campaigns:write', 'campaigns:read']);
    const created = await h.api(campaignsOnly, 'POST', '/v1/campaigns', { bot_id: botId, name: 'Forged', windows: ALWAYS });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const forged = { phone, time_zone: 'UTC', consent: { voice: 'granted', source: 'forged', recorded_at: '2020-01-01T00:00:00Z' } };
    const json = await h.api(campaignsOnly, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550232', time_zone: 'UTC' }, forged] });
    expect(json.statusCode).toBe(403);
    expect(json.json().error.message).toContain('contacts:write');
    const csv = await h.t.app.inject({
      method: 'POST', url: `/v1/campaigns/${id}/contacts/csv`, headers: { ...h.t.as(campaignsOnly), 'content-type': 'text/csv' },
      payload: `phone,time_zone,consent_voice,consent_source,consent_recorded_at\n${phone},UTC,granted,forged,2020-01-01T00:00:00Z\n`,
    });
    expect(csv.statusCode).toBe(403);
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(phone)}/consent`)).json()).toMatchObject({ voice: 'denied', source: 'sms STOP' });
    const [stored] = await h.t.db.sql<{ n: number }[]>`select count(*)::int as n from campaign_contacts where campaign_id = ${id}`;
    expect(stored!.n).toBe(0);
    // Rows without consent need only the campaign's scope; with contacts:write the consent is taken.
    expect((await h.api(campaignsOnly, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [{ phone: '+12125550232', time_zone: 'UTC' }] })).json()).toMatchObject({ added: 1 });
    const withConsent = await keyWith(['campaigns:write', 'contacts:write']);
    // Even then a record older than the refusal does not undo it (consent-latest-wins); a later one does.
    expect((await h.api(withConsent, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [forged] })).json()).toMatchObject({ added: 1 });
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(phone)}/consent`)).json()).toMatchObject({ voice: 'denied', source: 'sms STOP' });
    const refusedAt = new Date((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(phone)}/consent`)).json().recorded_at as string);
    const later = { ...forged, phone: '+12125550233', consent: { ...forged.consent, recorded_at: new Date(refusedAt.getTime() + 60_000).toISOString() } };
    await h.api(apiKey, 'PUT', `/v1/contacts/${encodeURIComponent(later.phone)}/consent`, { voice: 'denied', source: 'sms STOP', recorded_at: refusedAt.toISOString() });
    expect((await h.api(withConsent, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: [later] })).json()).toMatchObject({ added: 1 });
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(later.phone)}/consent`)).json()).toMatchObject({ voice: 'granted', source: 'forged' });
  });

  it('records the consent of a large upload in bulk: every row, a number given twice keeps its last record', async () => {
    const { apiKey, botId } = await h.company();
    const created = await h.api(apiKey, 'POST', '/v1/campaigns', { bot_id: botId, name: 'Bulk', windows: ALWAYS });
    const id = created.json().id as string;
    const phone = (i: number) => `+1646555${String(i).padStart(4, '0')}`;
    const contacts = Array.from({ length: 2_500 }, (_, i) => ({ phone: phone(i), time_zone: 'UTC', consent: { voice: i % 2 ? 'granted' : 'denied', source: `row ${i}` } }));
    contacts.push({ phone: phone(7), time_zone: 'UTC', consent: { voice: 'denied', source: 'given again' } });
    const up = await h.api(apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts });
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json()).toMatchObject({ added: 2_500, duplicates: 1 });
    const [n] = await h.t.db.sql<{ n: number; granted: number }[]>`
      select count(*)::int as n, count(*) filter (where voice = 'granted')::int as granted from contact_consents
      where company_id = (select company_id from campaigns where id = ${id}) and phone like '+1646555%'`;
    expect(n).toEqual({ n: 2_500, granted: 1_249 });
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent(phone(7))}/consent`)).json()).toMatchObject({ voice: 'denied', source: 'given again' });
  });

  it('consent and do-not-call changes are audited against a hash of the callee\'s number, never the number', async () => {
    const { companyId, apiKey } = await h.company();
    const phone = '+12125550241';
    const path = encodeURIComponent(phone);
    expect((await h.api(apiKey, 'PUT', `/v1/contacts/${path}/consent`, { voice: 'granted', source: 'web form' })).statusCode).toBe(200);
    expect((await h.api(apiKey, 'POST', '/v1/dnc', { numbers: [{ phone, reason: 'asked' }] })).statusCode).toBe(200);
    expect((await h.api(apiKey, 'DELETE', `/v1/dnc/${path}`)).statusCode).toBe(204);
    const audit = await h.t.db.sql<{ action: string; resource_id: string | null }[]>`
      select action, resource_id from audit_log where company_id = ${companyId} and (action like '%consent%' or action like '%/dnc%') order by id`;
    expect(audit.map((a) => a.action)).toEqual(['PUT /v1/contacts/:number/consent', 'POST /v1/dnc', 'DELETE /v1/dnc/:number']);
    expect(audit[0]!.resource_id).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(audit[2]!.resource_id).toBe(audit[0]!.resource_id);
    expect(JSON.stringify(await h.t.db.sql`select resource_id, changed_fields, details from audit_log where company_id = ${companyId}`)).not.toContain(phone.slice(1));
  });

  it('consent: denied is never called, required-but-unknown is skipped, granted is called; blocked prefixes too', async () => {
    const { apiKey, botId } = await h.company();
    // (+1900 numbers are refused as premium rate before any policy: a prefix of ordinary numbers is blocked here.)
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 1, max_calls_per_week: 3, blocked_prefixes: ['+1213'] });
    h.clock.set('2026-04-15T15:00:00Z');
    expect((await h.api(apiKey, 'PUT', `/v1/contacts/${encodeURIComponent('+12125550221')}/consent`, { voice: 'denied', source: 'sms STOP' })).statusCode).toBe(200);
    const open = await h.campaign(apiKey, botId, {}, [
      { phone: '+12125550221', time_zone: 'UTC' },
      { phone: '+12125550222', time_zone: 'UTC' },
      { phone: '+12135550100', time_zone: 'UTC' },
    ]);
    const strict = await h.campaign(apiKey, botId, { require_consent: true }, [
      { phone: '+12125550223', time_zone: 'UTC' },
      { phone: '+12125550224', time_zone: 'UTC', consent: { voice: 'granted', source: 'web form', recorded_at: '2026-04-01T10:00:00Z' } },
    ]);
    await h.scheduler().runOnce();
    expect(['+12125550221', '+12125550222', '+12135550100', '+12125550223', '+12125550224'].map((p) => h.dialsTo(p))).toEqual([0, 1, 0, 0, 1]);
    expect(await contactRow(h, open, '+12125550221')).toMatchObject({ state: 'skipped', skip_reason: 'consent_denied' });
    expect(await contactRow(h, open, '+12135550100')).toMatchObject({ state: 'skipped', skip_reason: 'blocked_prefix' });
    expect(await contactRow(h, strict, '+12125550223')).toMatchObject({ state: 'skipped', skip_reason: 'consent_missing' });
    const stats = (await h.api(apiKey, 'GET', `/v1/campaigns/${open}`)).json().stats;
    expect(stats.skipped).toEqual({ consent_denied: 1, blocked_prefix: 1 });
    expect((await h.api(apiKey, 'GET', `/v1/contacts/${encodeURIComponent('+12125550224')}/consent`)).json()).toMatchObject({ voice: 'granted', source: 'web form' });
  });

  it('voicemail: waits for the beep and leaves the message with the contact\'s variables, or hangs up', async () => {
    const { apiKey, botId } = await h.company();
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    h.clock.set('2026-04-16T15:00:00Z');
    const leave = await h.campaign(apiKey, botId, {
      voicemail: 'leave_message',
      voicemail_message: 'Hi {{first_name}}, this is Ava from the clinic, reminding you of your visit on {{appointment_time}}. {{missing}} Call us back any time.',
    }, [{ phone: '+12125550231', name: 'Ann Lee', time_zone: 'UTC', variables: { appointment_time: 'Friday at 3 pm' } }]);
    const hang = await h.campaign(apiKey, botId, { voicemail: 'hang_up', max_attempts: 2, retry_spacing_sec: 3600 }, [{ phone: '+12125550232', time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    const reqTo = (p: string) => h.fake.requests.find((r) => r.form.get('To') === p)!.form;
    expect(reqTo('+12125550231').get('MachineDetection')).toBe('DetectMessageEnd');
    expect(reqTo('+12125550232').get('MachineDetection')).toBe('Enable');

    const answer = async (phone: string, answeredBy: string) => {
      const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`select id, twilio_call_sid from calls where to_number = ${phone}`;
      return h.twilio(`/twilio/outbound/${call!.id}`, { CallSid: call!.twilio_call_sid, To: phone, Direction: 'outbound-api', AnsweredBy: answeredBy });
    };
    // A person answering would meet the bot with the contact's variables in its greeting and prompt.
    const [ann] = await h.t.db.sql<{ id: string }[]>`select id from calls where to_number = '+12125550231'`;
    const bot = await getBotById(h.t.db.sql, botId);
    const met = await personalizeForContact(h.t.db.sql, ann!.id, { ...bot!, config: { ...bot!.config, greeting: 'Hello {{first_name}}, about {{appointment_time}}.', systemPrompt: 'The callee is {{name}}.' } });
    expect(met.config).toMatchObject({ greeting: 'Hello Ann, about Friday at 3 pm.', systemPrompt: 'The callee is Ann Lee.' });
    const [other] = await h.t.db.sql<{ id: string }[]>`select id from calls where to_number = '+12125550232'`;
    expect((await personalizeForContact(h.t.db.sql, other!.id, bot!)).config.greeting).toBe(bot!.config.greeting);

    const left = await answer('+12125550231', 'machine_end_beep');
    // Spoken by the bot's own voice: its TTS rendered the filled message, Twilio plays it from a token URL.
    expect(left.body).toMatch(/<Play>https:\/\/voice\.example\.com\/twilio\/voicemail\/[0-9a-f-]{36}\.wav\?token=[\w-]+\.[\w-]+<\/Play><Hangup\/>/);
    expect(left.body).not.toContain('<Say');
    expect(h.voicemailTts.texts.join(' ')).toBe('Hi Ann, this is Ava from the clinic, reminding you of your visit on Friday at 3 pm. Call us back any time.');
    expect(left.body).not.toContain('<Stream');
    const hung = await answer('+12125550232', 'machine_start');
    expect(hung.body).toContain('<Hangup/>');
    expect(hung.body).not.toContain('<Say');
    await h.endCall('+12125550231', 'completed');
    await h.endCall('+12125550232', 'completed');
    await s.runOnce();
    expect(await contactRow(h, leave, '+12125550231')).toMatchObject({ state: 'done', last_outcome: 'voicemail_left' });
    expect(await contactRow(h, hang, '+12125550232')).toMatchObject({ state: 'pending', last_outcome: 'voicemail_hung_up' });
    const [att] = await h.t.db.sql`select answered_by, voicemail, outcome from campaign_attempts where campaign_id = ${leave}`;
    expect(att).toMatchObject({ answered_by: 'machine_end_beep', voicemail: 'left', outcome: 'voicemail_left' });
    const stats = (await h.api(apiKey, 'GET', `/v1/campaigns/${leave}`)).json().stats;
    expect(stats).toMatchObject({ dialled: 1, voicemail: 1, answered: 0, outcomes: { voicemail_left: 1 } });
    // A machine hung up on is dialled, not a message left.
    expect((await h.api(apiKey, 'GET', `/v1/campaigns/${hang}`)).json().stats).toMatchObject({ dialled: 1, voicemail: 0, outcomes: { voicemail_hung_up: 1 } });
    const [ev] = await h.t.db.sql`select body from webhook_events where type = 'campaign.attempt.ended' and ordering_key = ${leave}`;
    expect(JSON.parse(ev!.body as string).data).toMatchObject({ outcome: 'voicemail_left', answered_by: 'machine_end_beep', contact_state: 'done' });
    // The calls say the same as their attempts: a message left and a machine hung up on, not a caller who hung up.
    const endOf = async (phone: string) => {
      const [call] = await h.t.db.sql<{ id: string; status: string; end_reason: string }[]>`select id, status, end_reason from calls where to_number = ${phone}`;
      const [ended] = await h.t.db.sql<{ body: string }[]>`select body from webhook_events where type = 'call.ended' and ordering_key = ${call!.id}`;
      return { status: call!.status, end_reason: call!.end_reason, event: (JSON.parse(ended!.body).data as { reason: string }).reason };
    };
    expect(await endOf('+12125550231')).toEqual({ status: 'completed', end_reason: 'voicemail_left: machine_end_beep', event: 'voicemail_left: machine_end_beep' });
    expect(await endOf('+12125550232')).toEqual({ status: 'completed', end_reason: 'voicemail_hung_up: machine_start', event: 'voicemail_hung_up: machine_start' });
  });

  it('a person answering gets the bot; the outcome is answered', async () => {
    const { apiKey, botId } = await h.company();
    h.clock.set('2026-04-17T15:00:00Z');
    const phone = '+12125550241';
    const id = await h.campaign(apiKey, botId, { voicemail: 'leave_message', voicemail_message: 'Hello' }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`select id, twilio_call_sid from calls where to_number = ${phone}`;
    const res = await h.twilio(`/twilio/outbound/${call!.id}`, { CallSid: call!.twilio_call_sid, To: phone, AnsweredBy: 'human' });
    expect(res.body).toContain('<Stream');
    await h.endCall(phone, 'completed');
    await s.runOnce();
    expect(await contactRow(h, id, phone)).toMatchObject({ state: 'done', last_outcome: 'answered' });
  });

  it('the do_not_call tool lists the callee and ends politely (English and Russian); screening gets name and purpose', async () => {
    const { apiKey, botId, companyId } = await h.company();
    h.clock.set('2026-04-20T15:00:00Z');
    const phone = '+12125550251';
    const id = await h.campaign(apiKey, botId, { purpose: 'your appointment tomorrow', max_attempts: 3, retry_spacing_sec: 60 }, [{ phone, time_zone: 'UTC' }]);
    const s = h.scheduler();
    await s.runOnce();
    const [call] = await h.t.db.sql<{ id: string }[]>`select id from calls where to_number = ${phone}`;
    const ended: string[] = [];
    const control: CallControl = { endCall: (r) => void ended.push(r), transferCall: async () => {} };
    const ctx = (language: 'en' | 'ru'): CallContext => ({
      callId: call!.id, botId, companyId, callerNumber: phone,
      bot: { id: botId, name: 'Ava', language, config: { greeting: 'Hi', systemPrompt: 'x' } as never },
    });
    const screening = await callScreeningTool(h.t.db.sql).run({}, ctx('en'), control, new AbortController().signal);
    expect(screening.say).toMatch(/^Hello, this is Ava from Company \d+, calling about your appointment tomorrow\.$/);
    const stop = await doNotCallTool(h.t.db.sql).run({ reason: 'stop calling me' }, ctx('en'), control, new AbortController().signal);
    expect(stop.say).toContain("won't call you again");
    expect(ended).toEqual(['do_not_call']);
    const ru = await doNotCallTool(h.t.db.sql).run({ reason: 'больше не звоните' }, ctx('ru'), control, new AbortController().signal);
    expect(ru.say).toContain('больше мы вам звонить не будем');
    expect((await h.api(apiKey, 'GET', `/v1/dnc/${encodeURIComponent(phone)}`)).json()).toMatchObject({ source: 'call', call_id: call!.id, reason: 'stop calling me' });
    await h.endCall(phone, 'completed');
    h.clock.advance(3600_000 * 24);
    await s.runOnce();
    await s.runOnce();
    expect(h.dialsTo(phone)).toBe(1);
    const [att] = await h.t.db.sql`select screened from campaign_attempts where campaign_id = ${id}`;
    expect(att!.screened).toBe(true);
  });
});
