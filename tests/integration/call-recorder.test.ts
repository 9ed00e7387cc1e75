import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/bots/config-schema.js';
import { CallSession } from '../../src/call/call-session.js';
import { PgCallRecorder } from '../../src/call/recorder.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import { transcriptOf } from '../../src/db/calls.js';
import { builtInTools } from '../../src/call/tools/index.js';
import type { CallLogger } from '../../src/call/types.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { MemoryTransport } from '../helpers/memory-transport.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';

let db: TestDatabase;
let companyId: string;
let otherCompanyId: string;
let botId: string;

const errors: string[] = [];
const log: CallLogger = { info() {}, warn() {}, error: (_o, msg) => void errors.push(msg) };

async function newCall(): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status) values (${companyId}, ${botId}, 'inbound', '+15550001111', 'ringing')
    returning id`;
  return row!.id;
}

async function callRow(id: string) {
  const [row] = await db.sql`select c.*, ${transcriptOf(db.sql)} as transcript from calls c where c.id = ${id}`;
  return row!;
}

beforeAll(async () => {
  db = await createTestDb();
  const [c] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Acme', 'whsec_x') returning id`;
  const [c2] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Other', 'whsec_y') returning id`;
  companyId = c!.id;
  otherCompanyId = c2!.id;
  const [b] = await db.sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${companyId}, 'Front desk', 'en', ${db.sql.json({ greeting: 'Hi!', systemPrompt: '' })})
    returning id`;
  botId = b!.id;
});

afterAll(async () => {
  await db?.close();
});

describe('PgCallRecorder', () => {
  it('marks the call answered, appends turns as they complete, and ends in one transaction with the analysis job', async () => {
    const callId = await newCall();
    const rec = new PgCallRecorder({ sql: db.sql, callId, companyId, botId, log });
    await rec.start();
    let row = await callRow(callId);
    expect(row.status).toBe('in_progress');
    expect(row.answered_at).toBeInstanceOf(Date);

    await rec.appendTurn({ role: 'bot', text: 'Hi!', ts: new Date().toISOString() });
    row = await callRow(callId);
    expect(row.transcript).toHaveLength(1);
    await rec.appendTurn({ role: 'caller', text: 'Hello', ts: new Date().toISOString() });
    await rec.appendTurn({
      role: 'bot', text: 'How can I help?', ts: new Date().toISOString(), interrupted: true,
      latency: { endpointMs: 300, retrievalMs: null, llmFirstTokenMs: 120, ttsFirstAudioMs: 90, responseMs: 260, totalMs: 560 },
    });
    row = await callRow(callId);
    expect(row.transcript.map((t: { role: string }) => t.role)).toEqual(['bot', 'caller', 'bot']);
    expect(row.transcript[2]).toMatchObject({ interrupted: true, latency: { llmFirstTokenMs: 120 } });

    await rec.end({ status: 'completed', reason: 'caller_hangup: stop' });
    row = await callRow(callId);
    expect(row.status).toBe('completed');
    expect(row.ended_at).toBeInstanceOf(Date);
    expect(typeof row.duration_sec).toBe('number');
    expect(row.failure_reason).toBeNull();
    const jobs = await db.sql`select kind, payload, dedupe_key from jobs where dedupe_key = ${'analyze:' + callId}`;
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ kind: 'analyze_call', payload: { callId } });

    // A second end (e.g. shutdown after hang-up) changes nothing and enqueues nothing.
    await rec.end({ status: 'failed', reason: 'server_shutdown' });
    expect((await callRow(callId)).status).toBe('completed');
    expect(await db.sql`select 1 from jobs where dedupe_key = ${'analyze:' + callId}`).toHaveLength(1);
  });

  it('records a failure reason', async () => {
    const callId = await newCall();
    const rec = new PgCallRecorder({ sql: db.sql, callId, companyId, botId, log });
    await rec.start();
    await rec.end({ status: 'failed', reason: 'provider_failure: stt' });
    const row = await callRow(callId);
    expect(row).toMatchObject({ status: 'failed', failure_reason: 'provider_failure: stt' });
  });

  it("cannot touch another company's call", async () => {
    const callId = await newCall();
    const rec = new PgCallRecorder({ sql: db.sql, callId, companyId: otherCompanyId, botId, log });
    await rec.start();
    await rec.appendTurn({ role: 'bot', text: 'x', ts: new Date().toISOString() });
    await rec.end({ status: 'completed', reason: 'caller_hangup' });
    const row = await callRow(callId);
    expect(row.status).toBe('ringing');
    expect(row.transcript).toEqual([]);
    expect(row.ended_at).toBeNull();
  });

  it('never throws into the call loop when the database fails', async () => {
    const rec = new PgCallRecorder({ sql: db.sql, callId: 'not-a-uuid', companyId, botId, log });
    const before = errors.length;
    await expect(rec.appendTurn({ role: 'bot', text: 'x', ts: new Date().toISOString() })).resolves.toBeUndefined();
    await expect(rec.end({ status: 'completed', reason: 'caller_hangup' })).resolves.toBeUndefined();
    expect(errors.length).toBe(before + 2);
  });

  it('a live session writes each turn while the call is still going', async () => {
    const callId = await newCall();
    const transport = new MemoryTransport();
    const recorder = new PgCallRecorder({ sql: db.sql, callId, companyId, botId, log });
    const config = { greeting: 'Hi there!', systemPrompt: '' };
    const session = new CallSession({
      transport,
      stt: new ScriptedStt(),
      llm: new ScriptedLlm(() => 'We open at nine.', { firstTokenMs: 5, tokenMs: 1 }),
      tts: new ScriptedTts({ firstAudioMs: 5, bytesPerWord: 80, chunkMs: 1 }),
      tools: new ToolRegistry(builtInTools()),
      context: { callId, botId, companyId, callerNumber: null, bot: { id: botId, name: 'Front desk', language: 'en', config } },
      recorder,
      limits: DEFAULT_LIMITS,
      systemPrompt: '',
      language: 'en',
      log,
    });
    const done = session.start();
    await vi.waitFor(async () => expect((await callRow(callId)).transcript).toHaveLength(1), { timeout: 5000 });
    transport.text('When do you open?');
    await vi.waitFor(async () => expect((await callRow(callId)).transcript).toHaveLength(3), { timeout: 5000 });
    const mid = await callRow(callId);
    expect(mid.status).toBe('in_progress');
    expect(mid.transcript.map((t: { text: string }) => t.text)).toEqual(['Hi there!', 'When do you open?', 'We open at nine.']);
    expect(mid.transcript[2].latency.llmFirstTokenMs).toBeGreaterThanOrEqual(5);
    transport.close('stop');
    await done;
    const row = await callRow(callId);
    expect(row.status).toBe('completed');
    expect(await db.sql`select 1 from jobs where dedupe_key = ${'analyze:' + callId}`).toHaveLength(1);
  });
});

describe('a call\'s booking holds', () => {
  it('end with the call: the time is free for the next caller at once', async () => {
    const callId = await newCall();
    const recorder = new PgCallRecorder({ sql: db.sql, callId, companyId, botId, log });
    await recorder.start();
    const hold = async (call: string | null, status: string, hour: number) => (await db.sql<{ id: string }[]>`
      insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, hold_expires_at)
      values (${companyId}, ${botId}, ${call}, 'cut', 'Haircut', 'anna', 'Anna', ${new Date(Date.UTC(2027, 0, 5, hour))}, ${new Date(Date.UTC(2027, 0, 5, hour + 1))}, ${status},
        ${status === 'held' ? new Date(Date.now() + 5 * 60_000) : null})
      returning id`)[0]!.id;
    const open = await hold(callId, 'held', 9); // the caller hung up before saying yes
    const confirmed = await hold(callId, 'confirmed', 11);
    const apiHold = await hold(null, 'held', 13); // an API client's hold, no call
    await recorder.end({ status: 'completed', reason: 'caller_hangup' });
    const rows = await db.sql<{ id: string; status: string }[]>`select id, status from bookings where id = any(${[open, confirmed, apiHold]}::uuid[])`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [open]: 'expired', [confirmed]: 'confirmed', [apiHold]: 'held' });
    const [event] = await db.sql`select from_status, to_status, reason from booking_events where booking_id = ${open}`;
    expect(event).toMatchObject({ from_status: 'held', to_status: 'expired', reason: 'call ended before the booking was confirmed' });
  });
});
