/**
 * The lead path on a real knowledge base (the database's full-text search and vectors): a question the documents
 * do not answer — even one that shares a common word with them — gets the offer to take details, and while the
 * details are taken the call's recognizer is told a name, then a number, is coming; a question they answer is
 * answered. The scenario engine through the real agent-turn loop and tool registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import type { Playback } from '../../src/call/playback.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, CallControl } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';
import { systemClock } from '../../src/call/types.js';
import { acceptUpload } from '../../src/knowledge/documents.js';
import { ingestDocument } from '../../src/knowledge/ingest.js';
import { searchKnowledgeTool } from '../../src/knowledge/tool.js';
import { RecognitionContext } from '../../src/providers/stt/recognition-context.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { ScenarioEngine } from '../../src/scenario/engine.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { createBot, knowledgeHarness, type KnowledgeHarness } from '../fixtures/knowledge/kb.js';

const FAQ = 'Cancellation policy\n\nYou can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.\n\nOpening hours\n\nWe work every day from 8 am to 8 pm.\n';

describe('callback details on a real knowledge base', () => {
  let db: TestDatabase;
  let kb: KnowledgeHarness;
  let bot: { companyId: string; botId: string };

  beforeAll(async () => {
    db = await createTestDb();
    kb = knowledgeHarness(db.sql);
    bot = await createBot(db.sql, 'en', 'Handy Helpers');
    const { document } = await acceptUpload(kb.docDeps, { ...bot, filename: 'faq-en.md', bytes: Buffer.from(FAQ) });
    expect(await ingestDocument(kb.ingestDeps, document.id)).toBe('ready');
  });
  afterAll(async () => db?.close());

  function conversation(callId: string) {
    const history: ChatMessage[] = [];
    const recognition = new RecognitionContext();
    const registry = new ToolRegistry([...builtInTools(), searchKnowledgeTool(kb.retriever)]);
    const context: CallContext = {
      callId, companyId: bot.companyId, botId: bot.botId, callerNumber: null, recognition,
      bot: { id: bot.botId, name: 'Handy Helpers', language: 'en', config: { greeting: 'Hi', systemPrompt: '' } },
    };
    const control: CallControl = { endCall: () => {}, transferCall: async () => {} };
    const engine = new ScenarioEngine({ language: 'en' });
    return {
      expected: () => recognition.current(),
      async say(text: string): Promise<string> {
        history.push({ role: 'user', content: text });
        const phrases: string[] = [];
        const playback = { say: (p: string) => void phrases.push(p.trim()), noteUnspoken: () => {} } as unknown as Playback;
        const result = await runAgentTurn({
          llm: engine, tools: registry, context, control, system: '', history, userText: text,
          playback, signal: new AbortController().signal, clock: systemClock,
        });
        history.push({ role: 'assistant', content: result.finalText });
        return phrases.join(' ');
      },
    };
  }

  it('a question sharing only "hours" with the documents gets the callback offer, and the recognizer expects a name, then a number', async () => {
    const c = conversation('lead-1');
    expect(await c.say('do you fix your hours and hours')).toContain('What name should I leave for the callback?');
    expect(c.expected()).toBe('name');
    expect(await c.say('peter pan')).toContain('What number should we call you back on?');
    expect(c.expected()).toBe('phone');
    expect(await c.say('four one five five five five zero one nine nine')).toContain("I've noted your number, 4 1 5, 5 5 5, 0 1 9 9");
    expect(c.expected()).toBeNull();
  });

  it('a question the documents answer is answered, and the recognizer is told nothing', async () => {
    const c = conversation('q-1');
    expect(await c.say('What happens if I cancel at the last minute?')).toBe(
      'You can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.');
    expect(await c.say('What are your opening hours?')).toBe('Opening hours: We work every day from 8 am to 8 pm.');
    expect(c.expected()).toBeNull();
  });
});
