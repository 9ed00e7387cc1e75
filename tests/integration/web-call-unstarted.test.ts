/**
 * A web call whose token was used but which never started — the page left while the token was being checked, or
 * the token was refused after it was taken (its company disabled meanwhile) — ends there and then, once: canceled,
 * not_started, with its `call.ended`. It used to sit `queued` until the token's expiry (up to an hour) and the
 * sweep, its `call.ended` that late, though nothing could start it any more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { BudgetCheck, BudgetStatus } from '../../src/usage/budget.js';
import { closeAbandonedWebCalls } from '../../src/telephony/web/tokens.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

/** The budget check (made after the token is taken) of these companies waits for their page's socket to close. */
const held = new Map<string, Promise<void>>();
const budget: BudgetCheck = {
  status: async (companyId: string) => {
    await held.get(companyId);
    return { exhausted: false } as BudgetStatus;
  },
};

let app: WebCallApp;
beforeAll(async () => {
  app = await startWebCallApp(() => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.'), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) }), { budget });
}, 180_000);
afterAll(async () => app.close());

async function botWithWebhook() {
  const b = await app.newBot();
  await app.db.sql`update companies set webhook_url = 'https://hooks.example/parley' where id = ${b.companyId}`;
  return b;
}

async function ended(callId: string) {
  const [call] = await app.db.sql<{ status: string; end_reason: string | null; ended_at: Date | null }[]>`
    select status, end_reason, ended_at from calls where id = ${callId}`;
  const [events] = await app.db.sql<{ n: number }[]>`
    select count(*)::int as n from webhook_events where type = 'call.ended' and body::jsonb->'data'->>'call_id' = ${callId}`;
  return { ...call!, events: events!.n };
}

/** The server's side of the next socket to connect. */
function nextServerSocket(): Promise<WebSocket> {
  const server = app.app.websocketServer as unknown as { once(event: 'connection', f: (ws: WebSocket) => void): void };
  return new Promise((resolve) => server.once('connection', resolve));
}

describe('a web call that never started', () => {
  it('ends at once when its page leaves while the token is checked', async () => {
    const { apiKey, botId, companyId } = await botWithWebhook();
    const minted = await app.mint(apiKey, botId);
    const serverSide = nextServerSocket();
    const client = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    const socket = await serverSide;
    held.set(companyId, new Promise((resolve) => socket.once('close', () => resolve())));
    client.send({ type: 'start', token: minted.token });
    // The token is taken; the page goes while the budget is being checked.
    await until(async () => (await app.db.sql`select 1 from web_call_tokens where call_id = ${minted.call_id} and used_at is not null`).length > 0);
    client.ws.terminate();
    // The server is done with the start: it either ended the call or went on to start its media.
    await until(async () => (await app.db.sql`select 1 from calls where id = ${minted.call_id} and (ended_at is not null or media_started_at is not null)`).length > 0);
    expect(await ended(minted.call_id)).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^not_started/), events: 1 });
    // The sweep, when the token expires, finds nothing more to do.
    await app.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id = ${minted.call_id}`;
    await closeAbandonedWebCalls(app.db.sql);
    expect((await ended(minted.call_id)).events).toBe(1);
  });

  it('ends at once when its token is refused after it was taken (the company disabled since)', async () => {
    const { apiKey, botId, companyId } = await botWithWebhook();
    const minted = await app.mint(apiKey, botId);
    await app.db.sql`update companies set is_active = false where id = ${companyId}`;
    const client = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    client.send({ type: 'start', token: minted.token });
    expect(await client.closed).toBe(1008);
    expect(await ended(minted.call_id)).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^bot_disabled: /), events: 1 });
  });
});

/** Polls the database until `test` holds (the server ends the call on its own time). */
async function until(test: () => Promise<boolean>): Promise<void> {
  while (!(await test())) await new Promise((resolve) => setImmediate(resolve));
}
