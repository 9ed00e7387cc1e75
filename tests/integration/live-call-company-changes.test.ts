/**
 * A live call while its company changes things under it (web calls, the real CallRunner, scripted providers).
 *
 * Transfers: a transfer number that rings the bot itself or another company's bot is refused when a bot is saved
 * (dial-policy.test.ts); bots saved before that check, or whose transfer number another company has claimed since,
 * still carry one. The transfer is checked again when a live call asks for it: the caller hears the offer to take
 * their details, and nothing is dialled (before, the call was handed to Twilio to ring straight back into a bot).
 *
 * A company the operator disables mid-call: its calls end now, their transcript stored (before, they talked on for a
 * company whose keys and numbers no longer worked, until the caller hung up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { listenForCallEnds, type CallEndListener } from '../../src/telephony/call-end-notices.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { ADMIN_TOKEN, botBody } from '../helpers/app.js';
import { until } from '../helpers/until.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { storedTranscript } from '../helpers/transcript.js';

const NOT_TRANSFERRED = "I'm sorry, I can't transfer you right now";

let t: WebCallApp;
let listener: CallEndListener;

beforeAll(async () => {
  t = await startWebCallApp(() => ({
    stt: new ScriptedStt(),
    // The caller's first words get transfer_call; anything after, a plain answer.
    llm: new ScriptedLlm((_r, i) => (i === 0 ? { toolCalls: [{ id: 't1', name: 'transfer_call', arguments: { reason: 'caller asked for a person' } }] } : 'Of course.'), { firstTokenMs: 1, tokenMs: 1 }),
    tts: new ScriptedTts(),
  }));
  // As the server does: an end another party makes reaches the session through the database.
  listener = await listenForCallEnds(t.db, t.runner, createLogger('silent'));
}, 60_000);
afterAll(async () => {
  await listener?.stop();
  await t?.close();
});

async function botOf(apiKey: string, phoneNumber?: string): Promise<string> {
  const body = botBody(phoneNumber ? { phone_number: phoneNumber } : {});
  const config = { ...(body.config as object), limits: { silenceRepromptSec: 60, silenceHangupSec: 120 } };
  const res = await t.app.inject({ method: 'POST', url: '/v1/bots', headers: t.as(apiKey), payload: { ...body, config } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

/** A transfer number stored as a bot saved before the save-time check would have it. */
async function storeTransferNumber(botId: string, to: string): Promise<void> {
  await t.db.sql`update bots set config = jsonb_set(config, '{transferNumber}', to_jsonb(${to}::text)) where id = ${botId}`;
}

/** A web call in which the caller asks for a person; the call's stored transcript once the bot has answered. */
async function askForAPerson(apiKey: string, botId: string) {
  const { call_id: callId, token } = await t.mint(apiKey, botId);
  const client = await WebCallClient.connect(t.wsUrl, PUBLIC_URL);
  client.send({ type: 'start', token });
  await client.untilMessage((m) => m.type === 'ready');
  client.send({ type: 'text', text: 'Put me through to a person, please.' });
  const transcript = await until(async () => {
    const turns = await storedTranscript(t.db.sql, callId);
    return turns.some((x) => x.role === 'bot' && x.text.includes(NOT_TRANSFERRED)) || turns.some((x) => x.role === 'system') ? turns : null;
  });
  client.send({ type: 'end' });
  await client.closed;
  return transcript;
}

describe('a transfer checked at call time', () => {
  it("refuses a transfer to the bot's own number, saved before the check: the caller hears the offer, nothing is dialled", async () => {
    const c = await t.createCompany();
    const botId = await botOf(c.apiKey, '+12025550140');
    await storeTransferNumber(botId, '+12025550140');
    const transcript = await askForAPerson(c.apiKey, botId);
    expect(transcript.some((x) => x.role === 'system' && x.text.startsWith('Transfer to'))).toBe(false);
    expect(transcript.some((x) => x.role === 'bot' && x.text.includes(NOT_TRANSFERRED))).toBe(true);
  });

  it("refuses a transfer to a number another company's bot answers (claimed after the bot was saved)", async () => {
    const a = await t.createCompany('Alpha');
    const b = await t.createCompany('Beta');
    const botId = await botOf(a.apiKey);
    await storeTransferNumber(botId, '+12025550141');
    await botOf(b.apiKey, '+12025550141');
    const transcript = await askForAPerson(a.apiKey, botId);
    expect(transcript.some((x) => x.role === 'system' && x.text.startsWith('Transfer to'))).toBe(false);
    expect(transcript.some((x) => x.role === 'bot' && x.text.includes(NOT_TRANSFERRED))).toBe(true);
  });

  it('lets a transfer to another bot of the company itself through (a web call then cannot dial it: the transfer is asked for)', async () => {
    const c = await t.createCompany();
    await botOf(c.apiKey, '+12025550142');
    const botId = await botOf(c.apiKey);
    await storeTransferNumber(botId, '+12025550142');
    const transcript = await askForAPerson(c.apiKey, botId);
    expect(transcript.some((x) => x.role === 'system' && x.text === 'Transfer to +12025550142 requested: caller asked for a person')).toBe(true);
  });
});

describe('a company disabled during a call', () => {
  it('ends its live call at once: the row ended with why, the session stopped, the transcript kept', async () => {
    const c = await t.createCompany();
    const botId = await botOf(c.apiKey);
    const { call_id: callId, token } = await t.mint(c.apiKey, botId);
    const client = await WebCallClient.connect(t.wsUrl, PUBLIC_URL);
    client.send({ type: 'start', token });
    await client.untilMessage((m) => m.type === 'ready');
    await until(async () => (await storedTranscript(t.db.sql, callId)).some((x) => x.role === 'bot'));
    expect(t.runner.activeCount).toBe(1);

    const res = await t.app.inject({ method: 'PATCH', url: `/v1/admin/companies/${c.companyId}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { is_active: false } });
    expect(res.statusCode).toBe(200);
    await client.closed;
    await until(() => t.runner.activeCount === 0);
    const [row] = await t.db.sql`select status, end_reason, ended_at from calls where id = ${callId}`;
    expect(row).toMatchObject({ status: 'completed', end_reason: 'bot_disabled: the company was disabled during the call' });
    expect((await storedTranscript(t.db.sql, callId)).filter((x) => x.role === 'bot').length).toBeGreaterThan(0);
  });
});
