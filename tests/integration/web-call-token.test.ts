/**
 * Web-call authorisation: the socket refuses missing, unknown, expired and reused tokens and pages from origins
 * the bot does not allow; a token is used at most once even when two sockets race for it; minting needs the
 * company's API key and its own bot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOriginAllowed } from '../../src/telephony/web/origin.js';
import { closeAbandonedWebCalls } from '../../src/telephony/web/tokens.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

let app: WebCallApp;

beforeAll(async () => {
  app = await startWebCallApp(() => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.', { firstTokenMs: 5 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) }), { startTimeoutMs: 300 });
}, 180_000);
afterAll(async () => {
  await app.close();
});

/** Opens a socket, sends start, and returns the first ready/error answer and how the socket closed. */
async function attempt(start: Record<string, unknown> | null, origin: string | undefined = PUBLIC_URL) {
  const client = await WebCallClient.connect(app.wsUrl, origin);
  if (start) client.send(start);
  await client.until(() => client.messages.some((m) => m.type === 'ready') || client.closeCode !== null);
  const ready = client.of('ready')[0];
  if (ready) {
    client.send({ type: 'end' });
    await client.closed;
    return { ready: true as const, callId: ready.call_id as string, client };
  }
  return { ready: false as const, code: client.closeCode, error: client.of('error')[0], client };
}

async function tokenUsed(callId: string): Promise<boolean> {
  const [row] = await app.db.sql<{ used_at: Date | null }[]>`select used_at from web_call_tokens where call_id = ${callId}`;
  return row!.used_at !== null;
}

describe('web-call tokens', () => {
  it('accepts a fresh token once', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const first = await attempt({ type: 'start', token: minted.token });
    expect(first).toMatchObject({ ready: true, callId: minted.call_id });
    const again = await attempt({ type: 'start', token: minted.token });
    expect(again).toMatchObject({ ready: false, code: 1008, error: { code: 'PARLEY_ERR_UNAUTHORIZED' } });
  });

  it('refuses a socket that never sends start, and a start without a token', async () => {
    expect(await attempt(null)).toMatchObject({ ready: false, code: 1008 });
    expect(await attempt({ type: 'start' })).toMatchObject({ ready: false, code: 1008 });
    expect(await attempt({ type: 'text', text: 'hello' })).toMatchObject({ ready: false, code: 1008 });
  });

  it('refuses a start that declares audio other than PCM16 16 kHz mono, without using up the token', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    for (const declared of [{ sample_rate: 48000 }, { sample_rate: '16000' }, { encoding: 'opus' }, { encoding: 'float32' }, { channels: 2 }]) {
      const refused = await attempt({ type: 'start', token: minted.token, ...declared });
      expect(refused, JSON.stringify(declared)).toMatchObject({ ready: false, code: 1008 });
      expect(String((refused as { error?: { message?: unknown } }).error?.message)).toContain('16000 Hz');
    }
    expect(await tokenUsed(minted.call_id)).toBe(false);
    // Declaring what the socket carries is fine.
    expect(await attempt({ type: 'start', token: minted.token, encoding: 'pcm16', sample_rate: 16000, channels: 1 })).toMatchObject({ ready: true });
  });

  it('refuses unknown tokens', async () => {
    expect(await attempt({ type: 'start', token: 'wct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).toMatchObject({ ready: false, code: 1008 });
    expect(await attempt({ type: 'start', token: 'pk_not_a_web_token' })).toMatchObject({ ready: false, code: 1008 });
  });

  it('refuses an expired token and leaves the call queued', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    await app.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id = ${minted.call_id}`;
    expect(await attempt({ type: 'start', token: minted.token })).toMatchObject({ ready: false, code: 1008 });
    const [call] = await app.db.sql`select status from calls where id = ${minted.call_id}`;
    expect(call!.status).toBe('queued');
  });

  it('cancels calls whose token expired unused, and only those', async () => {
    const { apiKey, botId } = await app.newBot();
    const abandoned = await app.mint(apiKey, botId);
    const fresh = await app.mint(apiKey, botId);
    await app.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id = ${abandoned.call_id}`;
    expect(await closeAbandonedWebCalls(app.db.sql)).toBeGreaterThanOrEqual(1);
    const rows = await app.db.sql<{ id: string; status: string; failure_reason: string | null }[]>`
      select id, status, failure_reason from calls where id in (${abandoned.call_id}, ${fresh.call_id})`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[abandoned.call_id]).toMatchObject({ status: 'canceled', failure_reason: 'token_expired' });
    // Ended through the call lifecycle, like every other end: the analysis job is there (once).
    expect(await app.db.sql`select 1 from jobs where dedupe_key = ${`analyze:${abandoned.call_id}`}`).toHaveLength(1);
    expect(await closeAbandonedWebCalls(app.db.sql)).toBe(0);
    expect(byId[fresh.call_id]!.status).toBe('queued');
    expect(await attempt({ type: 'start', token: fresh.token })).toMatchObject({ ready: true });
  });

  it('mints tokens that expire after WEB_CALL_TOKEN_TTL_SEC', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const [row] = await app.db.sql<{ ttl: number }[]>`select extract(epoch from expires_at - created_at)::int as ttl from web_call_tokens where call_id = ${minted.call_id}`;
    expect(row!.ttl).toBe(app.config.WEB_CALL_TOKEN_TTL_SEC);
  });

  it('lets exactly one of two racing sockets use a token', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const results = await Promise.all([attempt({ type: 'start', token: minted.token }), attempt({ type: 'start', token: minted.token })]);
    expect(results.filter((r) => r.ready)).toHaveLength(1);
    expect(results.filter((r) => !r.ready && r.code === 1008)).toHaveLength(1);
  });

  it('refuses a page from an origin the bot does not allow, without using up the token', async () => {
    const { apiKey, botId } = await app.newBot({ allowedOrigins: ['https://shop.example'] });
    const minted = await app.mint(apiKey, botId);
    const evil = await attempt({ type: 'start', token: minted.token }, 'https://evil.example');
    expect(evil).toMatchObject({ ready: false, code: 1008 });
    expect(await tokenUsed(minted.call_id)).toBe(false);
    expect(await attempt({ type: 'start', token: minted.token }, 'https://shop.example')).toMatchObject({ ready: true });
  });

  it('allows only Parley\'s own origin when the bot lists none', async () => {
    const { apiKey, botId } = await app.newBot();
    const refused = await app.mint(apiKey, botId);
    expect(await attempt({ type: 'start', token: refused.token }, 'https://shop.example')).toMatchObject({ ready: false, code: 1008 });
    const own = await app.mint(apiKey, botId);
    expect(await attempt({ type: 'start', token: own.token }, PUBLIC_URL)).toMatchObject({ ready: true });
  });

  it('mints only with an API key, only for the company\'s own bot', async () => {
    const a = await app.newBot();
    const b = await app.newBot();
    const noKey = await app.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/web-calls` });
    expect(noKey.statusCode).toBe(401);
    const otherCompany = await app.app.inject({ method: 'POST', url: `/v1/bots/${a.botId}/web-calls`, headers: app.as(b.apiKey) });
    expect(otherCompany.statusCode).toBe(404);
    expect(otherCompany.json()).toMatchObject({ error: { code: 'PARLEY_ERR_NOT_FOUND' } });
    const [count] = await app.db.sql<{ n: number }[]>`select count(*)::int as n from calls where bot_id = ${a.botId}`;
    expect(count!.n).toBe(0);
  });

  it('refuses tokens for a bot deactivated after minting', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    await app.db.sql`update bots set is_active = false where id = ${botId}`;
    expect(await attempt({ type: 'start', token: minted.token })).toMatchObject({ ready: false, code: 1008 });
  });

  it('refuses tokens minted before the company was disabled, and takes them again once it is enabled', async () => {
    const { apiKey, botId, companyId } = await app.newBot();
    const before = await app.mint(apiKey, botId);
    const spare = await app.mint(apiKey, botId);
    await app.db.sql`update companies set is_active = false where id = ${companyId}`;
    expect(await attempt({ type: 'start', token: before.token })).toMatchObject({ ready: false, code: 1008 });
    // Its token spent, the call can never start: it ends there and then, saying why (not a page that left).
    const [call] = await app.db.sql`select status, end_reason from calls where id = ${before.call_id}`;
    expect(call).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^bot_disabled: /) });
    await app.db.sql`update companies set is_active = true where id = ${companyId}`;
    expect(await attempt({ type: 'start', token: spare.token })).toMatchObject({ ready: true, callId: spare.call_id });
    // Once the tokens have expired, the sweep leaves both calls as they are: the refused one ended, the started one.
    await app.db.sql`update web_call_tokens set expires_at = now() - interval '1 second' where call_id in (${before.call_id}, ${spare.call_id})`;
    await closeAbandonedWebCalls(app.db.sql);
    const rows = await app.db.sql<{ id: string; status: string; end_reason: string | null }[]>`
      select id, status, end_reason from calls where id in (${before.call_id}, ${spare.call_id})`;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId[before.call_id]).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^bot_disabled: /) });
    expect(byId[spare.call_id]!.end_reason).not.toBe('not_started');
  });
});

describe('isOriginAllowed', () => {
  it('matches exact origins, canonicalised', () => {
    expect(isOriginAllowed('https://shop.example', ['https://shop.example/'], 'https://parley.example')).toBe(true);
    expect(isOriginAllowed('https://SHOP.example:443', ['https://shop.example'], 'https://parley.example')).toBe(true);
    expect(isOriginAllowed('http://shop.example', ['https://shop.example'], 'https://parley.example')).toBe(false);
    expect(isOriginAllowed('https://shop.example.evil', ['https://shop.example'], 'https://parley.example')).toBe(false);
    expect(isOriginAllowed('null', ['https://shop.example'], 'https://parley.example')).toBe(false);
    expect(isOriginAllowed('https://parley.example', [], 'https://parley.example/')).toBe(true);
    expect(isOriginAllowed(undefined, [], 'https://parley.example')).toBe(true);
  });
});
