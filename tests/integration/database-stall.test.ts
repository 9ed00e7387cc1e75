/**
 * PostgreSQL stops answering (packets dropped, sockets left open) and comes back. Every query through the API's and
 * the calls' handle has a deadline (param-guard.ts): during the stall an API request answers 503 and a live call's
 * turn answers the caller instead of waiting in silence; afterwards everything works again, each query with its
 * own result. PostgreSQL only: the embedded database has no network to stall (and no deadline).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWebCall } from '../../scripts/call-web.js';
import { testConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { QueryDeadlineError } from '../../src/db/param-guard.js';
import { openServerDatabase } from '../../src/db/server-database.js';
import { createLogger } from '../../src/log.js';
import type { Tool } from '../../src/call/tool-types.js';
import { startWebCallApp, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { hostAndPort, startStallingProxy, type StallingProxy } from '../helpers/stalling-proxy.js';
import { until } from '../helpers/until.js';

/** The deadline of the proxied handle: short, so the test is quick. */
const DEADLINE_MS = 1000;
/** How long a stall lasts at most when the code under test does not give up on it (then the test fails). */
const STALL_LIMIT_MS = 15_000;

describe('the query deadline, by database', () => {
  it('DATABASE_QUERY_TIMEOUT_MS bounds a PostgreSQL query; embedded PGlite has no deadline (no network to stall)', async () => {
    const db = await openServerDatabase(testConfig({
      ...(usingRealPostgres() ? { DATABASE_URL: process.env.DATABASE_URL! } : {}), DATABASE_QUERY_TIMEOUT_MS: '1000',
    }), createLogger('silent'));
    try {
      const slow = db.sql`select pg_sleep(1.5), 1 as one`.then((rows) => rows[0], (e: unknown) => e);
      if (usingRealPostgres()) expect(await slow).toMatchObject({ name: 'QueryDeadlineError', deadlineMs: 1000 });
      else expect(await slow).toMatchObject({ one: 1 });
    } finally {
      await db.close();
    }
  });
});

// The stall itself needs a server behind a network (a proxy that stops forwarding): PostgreSQL's run of the suite.
if (usingRealPostgres()) describe('a stalled PostgreSQL', () => {
  let base: TestDatabase;
  let proxy: StallingProxy;
  let viaProxy: Database;
  let app: WebCallApp;
  let company: { apiKey: string; botId: string; companyId: string };

  /** Looks the hours up in the database, stalling it first: the turn's database work meets the stall. */
  const hoursTool: Tool = {
    spec: { name: 'check_opening_hours', description: 'Opening hours', parameters: { type: 'object', properties: {} } },
    run: async () => {
      proxy.stall();
      const [row] = await viaProxy.sql<{ hours: string }[]>`select 'nine to five' as hours`;
      return { content: row };
    },
  };

  /** `work`, with the stall ended after STALL_LIMIT_MS if it is still waiting (old code waits out the stall). */
  async function duringStall<T>(work: () => Promise<T>): Promise<T> {
    proxy.stall();
    const limit = setTimeout(() => proxy.resume(), STALL_LIMIT_MS);
    try {
      return await work();
    } finally {
      clearTimeout(limit);
      proxy.resume();
    }
  }

  beforeAll(async () => {
    base = await createTestDb();
    proxy = await startStallingProxy(hostAndPort(base.url!));
    // Opened as the server opens its database, the deadline read from DATABASE_QUERY_TIMEOUT_MS.
    viaProxy = await openServerDatabase(
      testConfig({ DATABASE_URL: proxy.urlFor(base.url!), DATABASE_QUERY_TIMEOUT_MS: String(DEADLINE_MS) }), createLogger('silent'));
    app = await startWebCallApp(() => ({
      stt: new ScriptedStt(),
      llm: new ScriptedLlm((r, i) => (i === 0
        ? { toolCalls: [{ id: 'h1', name: 'check_opening_hours', arguments: {} }] }
        : r.messages.at(-1)?.role === 'tool' && /error/.test(r.messages.at(-1)!.content) ? "I'm sorry, I can't look that up right now." : 'We are open nine to five.'), { firstTokenMs: 5 }),
      tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1, bytesPerWord: 640 }),
    }), { db: { ...viaProxy, url: base.url! }, runner: () => ({ toolsFor: () => [hoursTool] }) });
    company = await app.newBot();
  }, 180_000);
  afterAll(async () => {
    proxy?.resume();
    await app?.close();
    await viaProxy?.close();
    await proxy?.close();
    await base?.close();
  });

  it('gives up a query at the deadline DATABASE_QUERY_TIMEOUT_MS sets', async () => {
    const err = await duringStall(() => viaProxy.sql`select 1`.then(() => null, (e: unknown) => e));
    expect(err).toBeInstanceOf(QueryDeadlineError);
    expect((err as QueryDeadlineError).deadlineMs).toBe(DEADLINE_MS);
  });

  it('answers an API request with 503 during the stall, and normally once it is over', async () => {
    const during = await duringStall(() => app.app.inject({ method: 'GET', url: '/v1/calls', headers: app.as(company.apiKey) }));
    expect(during.statusCode).toBe(503);
    expect(during.json().error.code).toBe('PARLEY_ERR_UNAVAILABLE');

    const after = await app.app.inject({ method: 'GET', url: '/v1/calls', headers: app.as(company.apiKey) });
    expect(after.statusCode).toBe(200);
    // The connections the stall held are in step with the server: each query gets its own answer.
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => viaProxy.sql<{ i: number }[]>`select ${i}::int as i`.then(([r]) => r!.i)));
    expect(answers).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('gives up a transaction whose BEGIN meets the stall, and runs nothing of it when the database comes back', async () => {
    // One connection: the query after the transaction runs once the BEGIN's answer has come back.
    const one = await openDatabase({ databaseUrl: proxy.urlFor(base.url!), dataDir: 'memory://', poolMax: 1, queryDeadlineMs: DEADLINE_MS });
    try {
      await one.sql`select 1`;
      let ran = false;
      const outcome = await duringStall(() => one.sql.begin(async (tx) => {
        ran = true;
        await tx`select 1`;
      }).then(() => 'committed', (err: Error) => err.name));
      expect(outcome).toBe('QueryDeadlineError');
      await one.sql`select 1`;
      expect(ran).toBe(false);
    } finally {
      await one.close();
    }
  });

  it("answers the caller when the turn's database work meets the stall, and stores the call once it is over", async () => {
    const { token } = await app.mint(company.apiKey, company.botId);
    let result: Awaited<ReturnType<typeof runWebCall>>;
    try {
      // The tool stalls the database when it runs.
      const limit = setTimeout(() => proxy.resume(), STALL_LIMIT_MS);
      result = await runWebCall({ server: app.url, token, text: ['when are you open'], typed: true, realtime: false, print: () => {}, turnTimeoutMs: STALL_LIMIT_MS + 5000 });
      clearTimeout(limit);
    } finally {
      proxy.resume();
    }
    expect(result.transcript.filter((t) => t.role === 'bot').map((t) => t.text).at(-1)).toBe("I'm sorry, I can't look that up right now.");

    // The transcript written during the stall is stored once it is over.
    const turns = await until(async () => {
      const rows = await viaProxy.sql<{ n: number }[]>`select count(*)::int as n from call_turns where call_id = ${result.callId}`;
      return rows[0]!.n >= 3 && rows[0]!.n;
    });
    expect(turns).toBeGreaterThanOrEqual(3);
    const calls = await app.app.inject({ method: 'GET', url: '/v1/calls', headers: app.as(company.apiKey) });
    expect(calls.statusCode).toBe(200);
  });
});
