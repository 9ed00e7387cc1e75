/**
 * Qdrant down when the server starts: the server starts anyway and answers a phone call (calls barely need
 * retrieval); once Qdrant comes up, the ingestion job that failed meanwhile succeeds on its retry and retrieval
 * works — no restart. The real composition root (startServer), the fake Qdrant not yet listening on its port.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { FakeQdrant } from '../fakes/fakeQdrant.js';
import { botBody } from '../helpers/app.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';

const ADMIN = 'admin-e2e-0123456789abcdefghijklmnopqrst';
const TWILIO = 'twilio-e2e-vector-store-outage';
const NUMBER = '+15550104444';
const QDRANT_KEY = 'qdrant-api-key-never-logged';
const DOC = 'Parking\n\nFree parking is behind the building, enter from Mill Lane.';

function multipart(filename: string, text: string) {
  const boundary = '----parleyoutage';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`;
  return { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describe('the vector store unreachable at start', () => {
  const qdrant = new FakeQdrant();
  let qdrantPort: number;
  let db: TestDatabase;
  let server: RunningServer;
  let apiKey: string;
  let botId: string;
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string> | undefined) } });

  beforeAll(async () => {
    // A port that nothing listens on yet, for the Qdrant that comes up later.
    qdrantPort = Number(new URL(await qdrant.start()).port);
    await qdrant.stop();
    db = await createTestDb();
    const config = testConfig({
      PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: 'http://localhost:3000', ADMIN_TOKEN: ADMIN, TWILIO_AUTH_TOKEN: TWILIO,
      QDRANT_URL: `http://127.0.0.1:${qdrantPort}/`, QDRANT_API_KEY: QDRANT_KEY,
    });
    server = await startServer(config, createLogger('warn', logStream), { port: 0, database: db });
    const company = await fetch(`${server.url}/v1/admin/companies`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Outage salon' }) });
    apiKey = ((await company.json()) as { api_key: { key: string } }).api_key.key;
    const bot = await api('/v1/bots', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(botBody({ phone_number: NUMBER })) });
    expect(bot.status).toBe(201);
    botId = ((await bot.json()) as { id: string }).id;
  }, 120_000); // a server with its migrations, on a test machine that may be busy
  afterAll(async () => {
    await server?.stop();
    await db?.close();
    await qdrant.stop();
  });

  it('starts, says so in /metrics, and answers a phone call', async () => {
    expect(server.vectorStore.ready).toBe(false);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^parley_vector_store_ready 0$/m);
    const caller = await TwilioCaller.dial({ server: server.url, publicOrigin: 'http://localhost:3000', authToken: TWILIO, from: '+15557654321', to: NUMBER });
    expect(await caller.waitForBotAudio(20_000)).toBe(true); // the greeting
    await caller.hangup();
    // The log says which store and where (the URL's origin), never the API key.
    const warning = logLines.map((l) => JSON.parse(l) as { msg: string; QDRANT_URL?: string; err?: string }).find((l) => l.msg.startsWith('vector store unreachable'));
    expect(warning).toMatchObject({ QDRANT_URL: `http://127.0.0.1:${qdrantPort}`, err: expect.stringContaining('ECONNREFUSED') });
    expect(logLines.join('')).not.toContain(QDRANT_KEY);
  });

  it('ingests and retrieves once Qdrant comes up, without a restart', async () => {
    const upload = multipart('parking.txt', DOC);
    const res = await api(`/v1/bots/${botId}/knowledge`, { method: 'POST', headers: upload.headers, body: upload.body });
    expect(res.status).toBe(202);
    const { id: docId } = (await res.json()) as { id: string };
    // The ingestion job meets the outage and is rescheduled, as for any store outage.
    await until(async () => (await db.sql`select 1 from jobs where payload->>'documentId' = ${docId} and last_error is not null`).length > 0);

    await qdrant.start(qdrantPort);
    await server.vectorStore.whenReady;
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^parley_vector_store_ready 1$/m);
    const doc = await until(async () => {
      const d = (await (await api(`/v1/bots/${botId}/knowledge/${docId}`)).json()) as { status: string };
      return d.status !== 'processing' && d;
    }, 60_000);
    expect(doc.status).toBe('ready');
    expect(qdrant.points('parley_chunks', { doc_id: docId }).length).toBeGreaterThan(0);

    const search = await api(`/v1/bots/${botId}/knowledge/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'where can I park?' }) });
    expect(search.status).toBe(200);
    const { results } = (await search.json()) as { results: Array<{ text: string }> };
    expect(results[0]?.text).toContain('Mill Lane');
  });
});
