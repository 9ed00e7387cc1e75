/**
 * Words with a NUL or an unpaired surrogate — typed into a web call, recognised, or written by the analyzer — are
 * stored cleaned, never lost: PostgreSQL's text and jsonb refuse both, and a refused insert used to drop the whole
 * turn (or the call's outcome). Runs on both databases (PGlite and PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendTurn } from '../../src/call/lifecycle.js';
import type { RootSql } from '../../src/db/sql.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { analyzeCall } from '../../src/outcomes/analyze-call.js';
import { decodeWebClientMessage } from '../../src/telephony/web/codec.js';
import { storableJson, storableText } from '../../src/util/storable-text.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { storedTranscript } from '../helpers/transcript.js';
import { createBot, knowledgeHarness } from '../fixtures/knowledge/kb.js';

let db: TestDatabase;
let sql: RootSql;

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
});
afterAll(async () => db.close());

async function newCall() {
  const [company] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values ('Desk', 'https://hooks.example.com/x', ${generateWebhookSecret()}) returning id`;
  const [bot] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${company!.id}, 'Desk', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  const [call] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, status) values (${company!.id}, ${bot!.id}, 'inbound', '+15550001111', 'completed') returning id`;
  return { companyId: company!.id, callId: call!.id };
}

describe('words that PostgreSQL cannot store as they are', () => {
  it('cleans a NUL out and an unpaired surrogate to U+FFFD, and leaves clean text and paired surrogates alone', () => {
    expect(storableText('hello there\u0000 friend')).toBe('hello there friend');
    expect(storableText('my name is \ud800 bob \udc00')).toBe('my name is \ufffd bob \ufffd');
    expect(storableText('ok 😀 \u{1F600}')).toBe('ok 😀 \u{1F600}');
    expect(storableJson({ 'k\u0000': ['a\ud800', 1, null, { b: 'c\u0000' }] })).toEqual({ k: ['a\ufffd', 1, null, { b: 'c' }] });
  });

  it('a web call\'s typed text arrives cleaned; text that is nothing but a NUL is no text', () => {
    expect(decodeWebClientMessage(JSON.stringify({ type: 'text', text: 'hello there\u0000 friend' }))).toEqual({ ok: true, message: { type: 'text', text: 'hello there friend' } });
    expect(decodeWebClientMessage('{"type":"text","text":"my name is \\ud800 bob"}')).toEqual({ ok: true, message: { type: 'text', text: 'my name is \ufffd bob' } });
    expect(decodeWebClientMessage(JSON.stringify({ type: 'text', text: '\u0000' }))).toMatchObject({ ok: false });
  });

  it('keeps every turn of the transcript, whatever its text holds', async () => {
    const call = await newCall();
    await appendTurn(sql, call, { role: 'caller', text: 'hello there\u0000 friend', ts: new Date().toISOString() });
    await appendTurn(sql, call, { role: 'bot', text: 'my name is \ud800 Ava', ts: new Date().toISOString() });
    expect((await storedTranscript(sql, call.callId)).map((t) => t.text)).toEqual(['hello there friend', 'my name is \ufffd Ava']);
  });

  it('stores the outcome the analyzer wrote with them', async () => {
    const call = await newCall();
    await appendTurn(sql, call, { role: 'caller', text: 'Book me in', ts: new Date().toISOString() });
    const analysis = { summary: 'Booked\u0000 for \udc00 Bob', outcomeType: 'lead', confidence: 0.8, extractedData: { client_name: 'Bob\u0000', 'note\ud800': 'x' }, analyzer: 'test' };
    await analyzeCall(sql, { analyze: async () => analysis }, call.callId);
    const [outcome] = await sql<{ summary: string; extracted_data: Record<string, unknown> }[]>`select summary, extracted_data from outcomes where call_id = ${call.callId}`;
    expect(outcome).toEqual({ summary: 'Booked for \ufffd Bob', extracted_data: { client_name: 'Bob', 'note\ufffd': 'x' } });
  });

  it('stores an upload\'s file name cleaned and cut to 255 units without splitting a character', async () => {
    const bot = await createBot(sql);
    const docDeps = knowledgeHarness(sql).docDeps;
    const bytes = (text: string) => new TextEncoder().encode(text);
    const broken = await acceptUpload(docDeps, { ...bot, filename: '\ud800\u0000hours.txt', bytes: bytes('Open nine to five.') });
    expect(broken.document.filename).toBe('\ufffdhours.txt');
    // Cut where the emoji's two units would be split: the cut moves before it, and the extension is kept.
    const long = await acceptUpload(docDeps, { ...bot, filename: `${'a'.repeat(250)}😀${'b'.repeat(10)}.txt`, bytes: bytes('Closed on Sundays.') });
    expect(long.document.filename).toBe(`${'a'.repeat(250)}.txt`);
  });
});
