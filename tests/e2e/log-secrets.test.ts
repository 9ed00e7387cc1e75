/**
 * The real server process's output (its pino lines on stdout, and stderr) never carries a secret or a caller's number,
 * whatever requests and provider failures it meets: API keys in the Authorization and x-api-key headers, the admin
 * token, the Twilio auth token and signatures, web-call tokens in query strings, webhook secrets, the call-token
 * secret, provider keys (also when a vendor's error echoes the key it was sent), and a DATABASE_URL's password or a
 * refused setting's value when the start fails.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionBot, startServerChild, type ServerChild } from '../../scripts/bench/lib/server-child.js';
import { DEMO_BOT_CONFIG } from '../../scripts/lib/demo.js';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { FakeCartesia } from '../fakes/fakeCartesia.js';
import { FakeDeepgram } from '../fakes/fakeDeepgram.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';

const BOT_NUMBER = '+15550106666';
const CALLER = '+15557650001';
const KEYS = {
  DEEPGRAM_API_KEY: 'dgLOGSECRET0001', CARTESIA_API_KEY: 'caLOGSECRET0002', OPENAI_API_KEY: 'sk-LOGSECRET0003',
  CALL_TOKEN_SECRET: 'callTokenLOGSECRET0004-0123456789abcdef',
};

/** An OpenAI-compatible server that refuses every key and echoes the Authorization header it got (some do). */
async function echoingLlm(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({
      error: { message: `Incorrect API key provided: ${String(req.headers.authorization)}`, type: 'invalid_request_error', code: 'invalid_api_key' },
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server };
}

describe('the server process output', () => {
  let deepgram: FakeDeepgram;
  let cartesia: FakeCartesia;
  let llm: { url: string; server: Server };
  let db: TestDatabase | null = null;
  let server: ServerChild | null = null;

  beforeAll(async () => {
    // The vendors expect other keys: every provider fails the way a revoked key does.
    deepgram = await FakeDeepgram.start({ apiKey: 'dg-other' });
    cartesia = await FakeCartesia.start({ apiKey: 'cartesia-other' });
    llm = await echoingLlm();
    if (usingRealPostgres()) db = await createTestDb();
  });
  afterAll(async () => {
    await server?.stop();
    await db?.close();
    await Promise.all([deepgram?.close(), cartesia?.close(), new Promise((r) => llm?.server.close(r))]);
  });

  it('never carries secrets or callers\' numbers, through requests, calls and provider failures', async () => {
    server = await startServerChild({
      deepgramUrl: deepgram.url, cartesiaUrl: cartesia.url, openaiBaseUrl: llm.url, captureStdout: true,
      ...(db ? { databaseUrl: db.url! } : {}),
      extraEnv: { ...KEYS, LOG_LEVEL: 'debug', WORKERS_ENABLED: 'true', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
    const s = server;
    const { botId, apiKey } = await provisionBot(s, BOT_NUMBER, DEMO_BOT_CONFIG);
    const auth = { authorization: `Bearer ${apiKey}` };
    const secrets: string[] = [...Object.values(KEYS), s.adminToken, s.twilioAuthToken, apiKey, CALLER.slice(2)];

    // API keys and the admin token, right and wrong, in both headers.
    await fetch(`${s.url}/v1/bots`, { headers: auth });
    await fetch(`${s.url}/v1/bots`, { headers: { 'x-api-key': apiKey } });
    await fetch(`${s.url}/v1/bots`, { headers: { authorization: 'Bearer pk_wrongLOGSECRET0005' } });
    secrets.push('pk_wrongLOGSECRET0005');
    await fetch(`${s.url}/v1/admin/companies`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    await fetch(`${s.url}/v1/calls?from=${encodeURIComponent(CALLER)}`, { headers: auth });
    // The webhook secret.
    await fetch(`${s.url}/v1/company/webhook`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ url: 'http://127.0.0.1:9/hook' }) });
    const { secret } = (await (await fetch(`${s.url}/v1/company/webhook/secret`, { headers: auth })).json()) as { secret: string };
    secrets.push(secret);
    // A web-call token in the page's query string and on the socket.
    const minted = (await (await fetch(`${s.url}/v1/bots/${botId}/web-calls`, { method: 'POST', headers: auth })).json()) as { token: string };
    secrets.push(minted.token);
    await fetch(`${s.url}/call/${botId}?token=${minted.token}`);
    await fetch(`${s.url}/web-call/socket?token=${minted.token}`);
    // Twilio: a signed webhook, a badly signed one, and a call whose providers all refuse their keys.
    const form = { CallSid: 'CA0123456789abcdef0123456789abcdef', From: CALLER, To: BOT_NUMBER };
    const signature = computeSignature(s.twilioAuthToken, `${s.publicUrl}/twilio/status`, form);
    secrets.push(signature);
    await fetch(`${s.url}/twilio/status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: new URLSearchParams(form).toString() });
    await fetch(`${s.url}/twilio/voice`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bm90LWEtc2lnbmF0dXJlLUxPR1NFQ1JFVA==' }, body: new URLSearchParams(form).toString() });
    secrets.push('bm90LWEtc2lnbmF0dXJlLUxPR1NFQ1JFVA==');
    const phone = await TwilioCaller.dial({ server: s.url, publicOrigin: s.publicUrl, authToken: s.twilioAuthToken, from: CALLER, to: BOT_NUMBER });
    await phone.closed;
    // Its post-call analysis meets the LLM that echoes the key.
    await until(() => s.stdout().includes('job failed'));

    expect(s.stdout()).toContain('rejected the API key'); // the failures were logged…
    const output = s.stdout() + s.stderr();
    for (const value of secrets) expect(output, value).not.toContain(value); // …without what they carried
  }, 120_000);

  it('a failed start names the setting, never its value: a DATABASE_URL\'s password, a refused secret', async () => {
    const attempts: Array<[Record<string, string>, string]> = [
      [{ DATABASE_URL: 'postgres://parley:pwLOGSECRET0006@127.0.0.1:1/parley' }, 'pwLOGSECRET0006'],
      [{ DATABASE_URL: 'postgres://parley:pwLOGSECRET0007@127.0.0.1:notaport/parley' }, 'pwLOGSECRET0007'],
      [{ ADMIN_TOKEN: 'shortLOGSECRET0008' }, 'shortLOGSECRET0008'],
      [{ CALL_TOKEN_SECRET: 'shortLOGSECRET0009' }, 'shortLOGSECRET0009'],
    ];
    for (const [env, secret] of attempts) {
      const failed = await startServerChild({ deepgramUrl: deepgram.url, cartesiaUrl: cartesia.url, openaiBaseUrl: llm.url, extraEnv: env })
        .then((child) => { void child.stop(); return 'started'; }, (err: unknown) => String(err));
      expect(failed).toMatch(/exited during start-up/);
      expect(failed).toMatch(new RegExp(Object.keys(env)[0]!));
      expect(failed).not.toContain(secret);
    }
  }, 120_000);
});
