import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendTurn } from '../../src/call/lifecycle.js';
import type { RootSql } from '../../src/db/sql.js';
import { analyzeCall } from '../../src/outcomes/analyze-call.js';
import type { Analysis } from '../../src/outcomes/types.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { storedTranscript } from '../helpers/transcript.js';

let db: TestDatabase;
let sql: RootSql;

const SAID = 'Card 4111 1111 1111 1111, mail anna@example.com, phone +1 415 555 0123.';
const analysis: Analysis = {
  summary: `Anna gave ${SAID}`,
  outcomeType: 'lead',
  confidence: 0.9,
  extractedData: { client_email: 'anna@example.com', client_phone: '+14155550123', notes: ['card 4111-1111-1111-1111'], count: 2 },
  analyzer: 'test',
};

async function callFor(privacy: unknown) {
  const [company] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values ('Salon', 'https://hooks.example.com/x', ${generateWebhookSecret()}) returning id`;
  const config = { greeting: 'Hi', ...(privacy === undefined ? {} : { privacy }) };
  const [bot] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${company!.id}, 'Desk', 'en', ${sql.json(config as never)}) returning id`;
  const [call] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status) values (${company!.id}, ${bot!.id}, 'inbound', '+15550001111', 'completed') returning id`;
  return { companyId: company!.id, callId: call!.id };
}

async function storedFor(privacy: unknown) {
  const { companyId, callId } = await callFor(privacy);
  await appendTurn(sql, { callId, companyId }, { role: 'caller', text: SAID, ts: new Date().toISOString() });
  // What the safe-speech check kept from being said is quoted in the turn's details.
  const safety = [{ reason: 'foreign_data', detail: 'number +1 415 555 0199' }, { reason: 'foreign_data', detail: 'email jane@example.com' }, { reason: 'unsafe' }];
  await appendTurn(sql, { callId, companyId }, { role: 'bot', text: `So that is ${SAID}`, ts: new Date().toISOString(), safety });
  await analyzeCall(sql, { analyze: async () => analysis }, callId);

  const [outcome] = await sql<{ summary: string; extracted_data: Record<string, unknown> }[]>`select summary, extracted_data from outcomes where call_id = ${callId}`;
  const [event] = await sql<{ body: string }[]>`select body from webhook_events where company_id = ${companyId} and type = 'call.analyzed'`;
  const transcript = await storedTranscript(sql, callId);
  return { turns: transcript.map((t) => t.text), safety: (transcript[1] as { safety?: { reason: string; detail?: string }[] }).safety, outcome: outcome!, webhook: JSON.parse(event!.body).data.outcome };
}

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
});
afterAll(async () => db.close());

describe('redaction of what is stored', () => {
  it('redacts turns, the outcome and the call.analyzed webhook for a bot that asks for everything', async () => {
    const s = await storedFor({ redact: ['cards', 'emails', 'phones'] });
    expect(s.turns).toEqual(['Card [card], mail [email], phone [phone].', 'So that is Card [card], mail [email], phone [phone].']);
    expect(s.outcome.summary).toBe('Anna gave Card [card], mail [email], phone [phone].');
    expect(s.outcome.extracted_data).toEqual({ client_email: '[email]', client_phone: '[phone]', notes: ['card [card]'], count: 2 });
    expect(s.webhook.summary).toBe(s.outcome.summary);
    expect(s.webhook.extracted_data).toEqual(s.outcome.extracted_data);
    expect(s.safety).toEqual([{ reason: 'foreign_data', detail: 'number [phone]' }, { reason: 'foreign_data', detail: 'email [email]' }, { reason: 'unsafe' }]);
    expect(JSON.stringify(s)).not.toMatch(/4111|anna@example|jane@example|555/);
  });

  it('redacts only card numbers by default', async () => {
    const s = await storedFor(undefined);
    expect(s.turns[0]).toBe('Card [card], mail anna@example.com, phone +1 415 555 0123.');
    expect(s.outcome.extracted_data).toMatchObject({ client_email: 'anna@example.com', notes: ['card [card]'] });
    expect(s.webhook.summary).toBe('Anna gave Card [card], mail anna@example.com, phone +1 415 555 0123.');
  });

  it('stores everything as said for a bot that redacts nothing', async () => {
    const s = await storedFor({ redact: [] });
    expect(s.turns[0]).toBe(SAID);
    expect(s.safety![0]).toEqual({ reason: 'foreign_data', detail: 'number +1 415 555 0199' });
    expect(s.outcome.summary).toBe(analysis.summary);
    expect(s.webhook.extracted_data).toEqual(analysis.extractedData);
  });
});
