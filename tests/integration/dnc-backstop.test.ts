import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNumberAskedNotToBeCalled } from '../../src/campaigns/dnc-backstop.js';
import { removeDnc } from '../../src/campaigns/suppression.js';
import type { RootSql } from '../../src/db/sql.js';
import { analyzeCall, type CallBackstop } from '../../src/outcomes/analyze-call.js';
import type { Analyzer } from '../../src/outcomes/types.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { storeTurns } from '../helpers/transcript.js';

/** As the server passes it to the analysis job (src/server.ts). */
const backstops: CallBackstop[] = [listNumberAskedNotToBeCalled];

let db: TestDatabase;
let sql: RootSql;

/** An analyzer that, like a model that never called do_not_call, only summarises. */
const summariser: Analyzer = {
  analyze: async () => ({ outcomeType: 'support', confidence: 0.8, summary: 'They talked.', extractedData: {}, analyzer: 'test' }),
};

async function callWith(turns: { role: string; text: string }[], direction: 'inbound' | 'outbound' = 'outbound', other = '+15550002222') {
  const [company] = await sql<{ id: string }[]>`
    insert into companies (name, webhook_url, webhook_secret) values ('Solar', 'https://hooks.example.com/x', ${generateWebhookSecret()}) returning id`;
  const [bot] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, language, config) values (${company!.id}, 'Caller', 'en', ${sql.json({ greeting: 'Hi' } as never)}) returning id`;
  const [call] = await sql<{ id: string }[]>`
    insert into calls (company_id, bot_id, direction, from_number, to_number, status, answered_at, ended_at)
    values (${company!.id}, ${bot!.id}, ${direction}, ${direction === 'outbound' ? '+15550009999' : other}, ${direction === 'outbound' ? other : '+15550009999'},
      'completed', now() - interval '1 minute', now()) returning id`;
  await storeTurns(sql, call!.id, [{ role: 'bot', text: 'Hello, this is Sam from Solar, calling about panels.' }, ...turns]);
  return { companyId: company!.id, callId: call!.id };
}

const listed = (companyId: string) => sql<{ phone: string; source: string; call_id: string | null; reason: string | null }[]>`
  select phone, source, call_id, reason from dnc_numbers where company_id = ${companyId}`;

beforeAll(async () => {
  db = await createTestDb();
  sql = db.sql;
});
afterAll(async () => db?.close());

describe('do-not-call backstop after the call', () => {
  it('lists the callee who asked never to be called again, though the model never called do_not_call', async () => {
    const { companyId, callId } = await callWith([
      { role: 'caller', text: 'No thanks. Please put me on your do not call list.' },
      { role: 'bot', text: "Sure, I'll make a note of that. Have a great day!" },
    ]);
    await analyzeCall(sql, summariser, callId, { backstops });
    expect(await listed(companyId)).toEqual([
      { phone: '+15550002222', source: 'call', call_id: callId, reason: 'asked during the call: "No thanks. Please put me on your do not call list."' },
    ]);
  });

  it('reads the caller of an inbound call, and Russian', async () => {
    const { companyId, callId } = await callWith([{ role: 'caller', text: 'Больше мне не звоните, пожалуйста.' }], 'inbound', '+79161234567');
    await analyzeCall(sql, summariser, callId, { backstops });
    expect((await listed(companyId)).map((r) => r.phone)).toEqual(['+79161234567']);
  });

  it('lists nobody for words about a booking list, or words the bot said', async () => {
    const { companyId, callId } = await callWith([
      { role: 'caller', text: 'Can you take me off the waiting list for Tuesday?' },
      { role: 'bot', text: 'If you would rather we stop calling you, just say so.' },
    ]);
    await analyzeCall(sql, summariser, callId, { backstops });
    expect(await listed(companyId)).toEqual([]);
  });

  it('does not list again a number the company took off the list, when the call is analysed again', async () => {
    const { companyId, callId } = await callWith([{ role: 'caller', text: 'Stop calling me.' }]);
    await analyzeCall(sql, summariser, callId, { backstops });
    expect(await listed(companyId)).toHaveLength(1);
    expect(await removeDnc(sql, companyId, '+15550002222')).toBe(true);
    await analyzeCall(sql, summariser, callId, { force: true, backstops });
    expect(await listed(companyId)).toEqual([]);
  });
});
