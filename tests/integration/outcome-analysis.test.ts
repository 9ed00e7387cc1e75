import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootSql } from '../../src/db/sql.js';
import { enqueueJob, JobWorker } from '../../src/jobs/queue.js';
import { analyzeCall, analyzeCallJob, ANALYZE_CALL_JOB, bookingMadeDuringCall } from '../../src/outcomes/analyze-call.js';
import { createAnalyzer } from '../../src/outcomes/llm-analyzer.js';
import { AnthropicLlm } from '../../src/providers/llm/anthropic.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { loadAnalysisPrompt } from '../../src/outcomes/prompt.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { FakeAnthropic } from '../fakes/fakeAnthropic.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { storeTurns } from '../helpers/transcript.js';

let db: TestDatabase;
let sql: RootSql;
let openai: FakeOpenAI;
let prompt: string;

const valid = {
  summary: 'Anna booked a haircut for tomorrow at 15:00.',
  outcome_type: 'booking',
  confidence: 0.92,
  extracted_data: { intent: 'book haircut', service: 'haircut', date: '2026-11-25', time: '15:00', client_name: 'Anna', client_phone: null },
};

async function setup(botConfig: Record<string, unknown> = {}, transcript: unknown[] = [{ role: 'caller', text: 'I want to book a haircut tomorrow at 3 pm, my name is Anna' }]) {
  const [company] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values ('Salon', 'https://hooks.example.com/x', ${generateWebhookSecret()}) returning id`;
  const [bot] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${company!.id}, 'Front desk', 'en', ${sql.json({ greeting: 'Hi', ...botConfig } as never)}) returning id`;
  const [call] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status)
    values (${company!.id}, ${bot!.id}, 'inbound', '+15550001111', 'completed') returning id`;
  await storeTurns(sql, call!.id, transcript as object[]);
  return { companyId: company!.id, botId: bot!.id, callId: call!.id };
}

const analyzedEvents = (companyId: string) =>
  sql<{ body: string; ordering_key: string }[]>`select body, ordering_key from webhook_events where company_id = ${companyId} and type = 'call.analyzed'`;

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
  openai = await FakeOpenAI.start();
  prompt = await loadAnalysisPrompt();
});
afterAll(async () => {
  await openai.close();
  await db.close();
});

/** The call's LLM usage rows (post-call analysis is the only LLM use of these calls). */
const llmUsageOf = (callId: string) => sql<{ kind: string; provider: string; model: string; quantity: string }[]>`
  select kind, provider, model, quantity::text as quantity from call_usage where call_id = ${callId} and kind like 'llm_%' order by kind`;

describe('post-call analysis', () => {
  it('retries an invalid LLM answer, stores the outcome and emits call.analyzed in the same transaction', async () => {
    const { companyId, botId, callId } = await setup();
    const before = openai.requests.length;
    openai.jsonReplies = ['{"summary": "Anna booked", "outcome_type": ', JSON.stringify(valid)];
    const analyzer = createAnalyzer({ llm: new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl, model: 'gpt-test' }), prompt });
    const result = await analyzeCall(sql, analyzer, callId);
    expect(result).toMatchObject({ outcomeType: 'booking', confidence: 0.92, analyzer: 'openai:gpt-test' });

    const reqs = openai.requests.slice(before);
    expect(reqs).toHaveLength(2);
    const format = reqs[0]!.body.response_format as { type: string; json_schema: { strict: boolean; schema: { properties: { outcome_type: { enum: string[] } } } } };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.strict).toBe(true);
    expect(format.json_schema.schema.properties.outcome_type.enum).toEqual(['booking', 'lead', 'support', 'hangup', 'transfer', 'no_response', 'failed', 'not_connected']);
    const system = (reqs[0]!.body.messages as { role: string; content: string }[])[0]!.content;
    expect(system).toContain('exactly one of these outcome types');
    const retryMessages = reqs[1]!.body.messages as { role: string; content: string }[];
    expect(retryMessages.at(-1)!.content).toMatch(/invalid \(the answer is not valid JSON\)/);

    const [row] = await sql`select outcome_type, confidence, summary, extracted_data, analyzer, company_id from outcomes where call_id = ${callId}`;
    expect(row).toMatchObject({ outcome_type: 'booking', summary: valid.summary, extracted_data: valid.extracted_data, analyzer: 'openai:gpt-test', company_id: companyId });
    const events = await analyzedEvents(companyId);
    expect(events).toHaveLength(1);
    const body = JSON.parse(events[0]!.body);
    expect(body).toMatchObject({ type: 'call.analyzed', version: 1, company_id: companyId, data: { call_id: callId, bot_id: botId, outcome: { type: 'booking', summary: valid.summary } } });
    expect(body.id).toMatch(/^evt_/);
    expect(events[0]!.ordering_key).toBe(callId);

    // Both answers are billed, the refused one too: the call's usage holds them (the fake reports 10 + 10 each).
    expect(await llmUsageOf(callId)).toEqual([
      { kind: 'llm_input_tokens', provider: 'openai', model: 'gpt-test', quantity: '20' },
      { kind: 'llm_output_tokens', provider: 'openai', model: 'gpt-test', quantity: '20' },
    ]);

    // Idempotent: a second run (a job retried after a crash) changes nothing and emits nothing.
    expect(await analyzeCall(sql, analyzer, callId)).toBeNull();
    expect(await analyzedEvents(companyId)).toHaveLength(1);
  });

  it('a call nobody was on (unanswered, a web call never started) is not sent to the LLM and is not called a hang-up', async () => {
    const analyzer = createAnalyzer({ llm: new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl, model: 'gpt-test' }), prompt });
    for (const [status, reason] of [['canceled', 'token_expired'], ['no_answer', null], ['failed', 'never_connected']] as const) {
      const { callId } = await setup({}, []);
      await sql`update calls set status = ${status}, failure_reason = ${reason} where id = ${callId}`;
      const before = openai.requests.length;
      const result = await analyzeCall(sql, analyzer, callId);
      expect(openai.requests.length, status).toBe(before);
      expect(result, status).toMatchObject({ outcomeType: 'not_connected', analyzer: 'offline (not connected)' });
      expect(result!.summary, status).toMatch(/^There was no conversation\. The call never connected/);
    }
  });

  it('knows how a completed call ended from the call itself, with no webhook configured', async () => {
    const { callId, companyId } = await setup({}, [{ role: 'bot', text: 'Hi' }, { role: 'caller', text: 'what are your opening hours' }, { role: 'bot', text: 'Nine to five.' }, { role: 'caller', text: 'thanks goodbye' }]);
    await sql`update companies set webhook_url = null where id = ${companyId}`;
    await sql`update calls set ended_at = now(), end_reason = 'bot_end_call: caller said goodbye' where id = ${callId}`;
    const result = await analyzeCall(sql, createAnalyzer({ llm: null }), callId);
    expect(result!.summary).toMatch(/The bot ended the call\.$/);
  });

  it('falls back to the offline analyzer, with a note, when every answer is invalid', async () => {
    const { callId, companyId } = await setup();
    // Valid JSON, but outside the schema: an outcome type the bot does not have, confidence above 1.
    openai.jsonReplies = [JSON.stringify({ ...valid, outcome_type: 'sale', confidence: 3 })];
    const before = openai.requests.length;
    const analyzer = createAnalyzer({ llm: new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl, model: 'gpt-test' }), prompt });
    const result = await analyzeCall(sql, analyzer, callId);
    expect(openai.requests.length - before).toBe(3);
    expect(result!.analyzer).toMatch(/^offline \(fallback: openai:gpt-test answered invalid output 3 times/);
    expect(result!.outcomeType).toBe('lead'); // booking intent + a name, nothing booked
    expect(await analyzedEvents(companyId)).toHaveLength(1);
  });

  it('uses the bot\'s own outcome types and extraction schema (non-strict when the schema is not strict-compatible)', async () => {
    const { callId } = await setup({
      outcomes: {
        types: [{ name: 'sale', description: 'Bought something' }, { name: 'no_sale' }],
        extractionSchema: { type: 'object', properties: { product: { type: 'string' } }, required: ['product'] },
      },
    });
    openai.jsonReplies = [JSON.stringify({ summary: 'Bought a plan', outcome_type: 'sale', confidence: 0.8, extracted_data: { product: 'gold plan' } })];
    const before = openai.requests.length;
    const analyzer = createAnalyzer({ llm: new OpenAiLlm({ apiKey: openai.apiKey, baseUrl: openai.baseUrl }), prompt });
    expect(await analyzeCall(sql, analyzer, callId)).toMatchObject({ outcomeType: 'sale', extractedData: { product: 'gold plan' } });
    const format = openai.requests[before]!.body.response_format as { json_schema: { strict: boolean } };
    expect(format.json_schema.strict).toBe(false);
  });

  it('runs as the durable analyze_call job, offline without a key', async () => {
    const { callId } = await setup({}, [{ role: 'bot', text: 'Hello?' }]);
    await enqueueJob(sql, { kind: ANALYZE_CALL_JOB, payload: { callId }, dedupeKey: `analyze:${callId}` });
    const worker = new JobWorker(sql, { kinds: { [ANALYZE_CALL_JOB]: analyzeCallJob({ sql, analyzer: createAnalyzer({ llm: null }) }) }, pollMs: 20, log: { warn: () => {}, error: () => {} } });
    worker.start();
    try {
      for (let i = 0; i < 2400 && !(await sql`select 1 from jobs where status = 'done' and payload->>'callId' = ${callId}`).length; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      await worker.stop();
    }
    const [row] = await sql`select outcome_type, analyzer from outcomes where call_id = ${callId}`;
    expect(row).toEqual({ outcome_type: 'hangup', analyzer: 'offline' });
  });

  it('sees a live booking made during the call, and takes its time, service and name from it', async () => {
    // The caller picked one of the offered times: their words hold no time at all.
    const { callId, companyId, botId } = await setup({ booking: { timezone: 'America/New_York' } }, [
      { role: 'caller', text: 'I need a haircut tomorrow' },
      { role: 'bot', text: 'I can offer 10:00 AM or 3:00 PM. Which one suits you?' },
      { role: 'caller', text: 'the second one' },
    ]);
    const book = (status: string, hourUtc: number) => sql`
      insert into bookings (company_id, bot_id, call_id, service_id, service_name, resource_id, resource_name, starts_at, ends_at, status, customer_name, hold_expires_at)
      values (${companyId}, ${botId}, ${callId}, 'cut', 'Haircut', 'anna', 'Anna', ${new Date(Date.UTC(2026, 11, 3, hourUtc))}, ${new Date(Date.UTC(2026, 11, 3, hourUtc + 1))},
        ${status}, 'Anna Lee', ${status === 'held' ? new Date(Date.now() + 60_000) : null})`;
    expect(await bookingMadeDuringCall(sql, companyId, callId)).toBe(false);
    await book('cancelled', 14);
    await book('held', 16);
    expect(await bookingMadeDuringCall(sql, companyId, callId)).toBe(false);
    await book('confirmed', 20); // 15:00 in New York
    expect(await bookingMadeDuringCall(sql, companyId, callId)).toBe(true);
    const result = await analyzeCall(sql, createAnalyzer({ llm: null }), callId);
    expect(result).toMatchObject({ outcomeType: 'booking', extractedData: { date: '2026-12-03', time: '15:00', service: 'haircut', client_name: 'Anna Lee' } });
  });
});

describe('post-call analysis with Anthropic (forced tool use)', () => {
  let anthropic: FakeAnthropic;
  beforeAll(async () => {
    anthropic = await FakeAnthropic.start();
  });
  afterAll(async () => {
    await anthropic.close();
  });

  it('retries a broken tool input with an error tool_result, then stores the valid answer', async () => {
    const { callId } = await setup();
    let n = 0;
    anthropic.reply = () => {
      n++;
      return n === 1
        ? { toolUses: [{ id: 'toolu_1', name: 'record_call_analysis', input: { summary: 'x', outcome_type: 'booking' } }] }
        : { toolUses: [{ id: 'toolu_2', name: 'record_call_analysis', input: valid }] };
    };
    const before = anthropic.requests.length;
    const analyzer = createAnalyzer({ llm: new AnthropicLlm({ apiKey: anthropic.apiKey, baseUrl: anthropic.baseUrl, model: 'claude-test' }), prompt });
    expect(await analyzeCall(sql, analyzer, callId)).toMatchObject({ outcomeType: 'booking', analyzer: 'anthropic:claude-test' });
    const reqs = anthropic.requests.slice(before);
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.body.tool_choice).toEqual({ type: 'tool', name: 'record_call_analysis' });
    expect((reqs[0]!.body.tools as { input_schema: { required: string[] } }[])[0]!.input_schema.required).toContain('extracted_data');
    const retry = reqs[1]!.body.messages as { role: string; content: unknown }[];
    // The broken answer goes back as the model's own tool call, the refusal as its error result.
    expect(retry.at(-2)).toMatchObject({ role: 'assistant', content: [{ type: 'tool_use', name: 'record_call_analysis', input: { summary: 'x', outcome_type: 'booking' } }] });
    const toolUseId = (retry.at(-2)!.content as { id: string }[])[0]!.id;
    expect(retry.at(-1)).toMatchObject({ role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUseId, is_error: true }] });
    // Both answers' input is the call's usage (the fake reports 10 input tokens each).
    expect((await llmUsageOf(callId)).find((u) => u.kind === 'llm_input_tokens')).toEqual({ kind: 'llm_input_tokens', provider: 'anthropic', model: 'claude-test', quantity: '20' });
  });
});
