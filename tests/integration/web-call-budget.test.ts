/**
 * A web-call token is valid for a while (WEB_CALL_TOKEN_TTL_SEC, up to an hour): the company's budget is checked again
 * when the token is used, so a token minted just before the budget ran out opens no call. The call row ends as a phone
 * call refused for the budget does: failed, budget_exhausted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BudgetCheck, BudgetStatus } from '../../src/usage/budget.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

const exhausted = new Set<string>();
const budget: BudgetCheck = { status: async (companyId: string) => ({ exhausted: exhausted.has(companyId) }) as BudgetStatus };

let app: WebCallApp;
beforeAll(async () => {
  app = await startWebCallApp(() => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Sure.'), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) }), { budget });
}, 180_000);
afterAll(async () => app.close());

describe('a web call whose company ran out of budget after its token was minted', () => {
  it('is refused at the socket and recorded as failed: budget_exhausted; another company\'s call starts', async () => {
    const broke = await app.newBot();
    const fine = await app.newBot();
    const brokeToken = await app.mint(broke.apiKey, broke.botId);
    const fineToken = await app.mint(fine.apiKey, fine.botId);
    exhausted.add(broke.companyId);

    const refused = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    refused.send({ type: 'start', token: brokeToken.token });
    expect(await refused.closed).toBe(1008);
    expect(refused.of('ready')).toHaveLength(0);
    const [row] = await app.db.sql`select status, end_reason, duration_sec from calls where id = ${brokeToken.call_id}`;
    expect(row).toMatchObject({ status: 'failed', end_reason: 'budget_exhausted', duration_sec: 0 });

    const started = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    started.send({ type: 'start', token: fineToken.token });
    await started.untilMessage((m) => m.type === 'ready');
    started.send({ type: 'end' });
    await started.closed;
  });
});
