/**
 * What an operator reads on /metrics, following from what happened: a pending webhook event → backlog 1; a queued
 * job → depth 1 for its kind; a call that ended → ended_total 1 with its reason; a recognizer that failed to open
 * once → one provider error and one reconnect for that provider and stage. The backlog is read from the database
 * at most once per cache period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueJob } from '../../src/jobs/queue.js';
import { installBacklogMetrics } from '../../src/metrics.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { until } from '../helpers/until.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

let app: WebCallApp;
/** Opens the next call's recognizer fails before one succeeds. */
let sttFailOpens = 0;
let clock = 0;

// The registry the call loop records into (the harness's; its app serves another one at /metrics).
const scrape = () => app.metrics.registry.metrics();
const series = (text: string, line: RegExp) => text.split('\n').find((l) => line.test(l));

beforeAll(async () => {
  app = await startWebCallApp(() => {
    const stt = new ScriptedStt();
    stt.failOpens = sttFailOpens;
    return { stt, llm: new ScriptedLlm(() => 'We are open from nine to five.'), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1, bytesPerWord: 3201 }) };
  });
  installBacklogMetrics(app.metrics, app.db.sql, { jobKinds: ['ingest_document', 'analyze_call'], cacheMs: 5_000, now: () => clock });
}, 180_000);
afterAll(async () => {
  await app?.close();
});

describe('/metrics for operators', () => {
  it('the webhook backlog and the job queue by kind, read at most once per cache period', async () => {
    const { companyId } = await app.newBot();
    await app.db.sql`update companies set webhook_url = 'https://receiver.example/hook' where id = ${companyId}`;
    expect(await recordEvent(app.db.sql, { type: 'call.ended', companyId, data: {} })).not.toBeNull();
    await enqueueJob(app.db.sql, { kind: 'analyze_call', payload: {} });

    const first = await scrape();
    expect(first).toMatch(/^parley_webhook_pending_events 1$/m);
    expect(series(first, /^parley_webhook_oldest_pending_seconds /)).toBeDefined();
    expect(first).toMatch(/^parley_jobs_queued\{kind="analyze_call"\} 1$/m);
    expect(first).toMatch(/^parley_jobs_queued\{kind="ingest_document"\} 0$/m);
    expect(series(first, /^parley_jobs_oldest_seconds\{kind="analyze_call"\} /)).toBeDefined();

    // Within the cache period a scrape does not read the database again; after it, it does.
    await enqueueJob(app.db.sql, { kind: 'analyze_call', payload: {} });
    clock += 4_999;
    expect(await scrape()).toMatch(/^parley_jobs_queued\{kind="analyze_call"\} 1$/m);
    clock += 1;
    expect(await scrape()).toMatch(/^parley_jobs_queued\{kind="analyze_call"\} 2$/m);
  });

  it('a call that ended counts with its reason; a recognizer that failed once, as an error and a reconnect', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = (await app.mint(apiKey, botId)) as { token: string };
    sttFailOpens = 1;
    const client = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    client.send({ type: 'start', token: minted.token });
    await client.untilMessage((m) => m.type === 'transcript' && m.role === 'bot' && m.final === true);
    client.send({ type: 'end' });
    await client.closed;

    const text = await until(async () => {
      const t = await scrape();
      return /^parley_calls_ended_total\{reason="caller_hangup"\} 1$/m.test(t) && t;
    });
    expect(text).toMatch(/^parley_provider_errors_total\{provider="scripted-stt",stage="stt"\} 1$/m);
    expect(text).toMatch(/^parley_provider_reconnects_total\{provider="scripted-stt",stage="stt"\} 1$/m);
    expect(text).not.toMatch(/stage="tts"|stage="llm"/);
  });
});
