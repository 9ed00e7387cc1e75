/**
 * A document the company deletes or replaces mid-call is out of everything the model is sent from then on, through
 * both vendors' adapters: a search_knowledge result already in the history, and the passages put before the model
 * for the answer under way (they serve every tool round of it). Before, the result stayed in the conversation for
 * the rest of the call and the answer's passages for all its rounds, so a later answer could still quote a price
 * list the company had withdrawn. The check is one read per LLM request (here counted), none without passages.
 */
import { describe, expect, it } from 'vitest';
import { runAgentTurn } from '../../src/call/agent-turn.js';
import { WITHDRAWN_NOTE } from '../../src/call/knowledge-frame.js';
import type { Playback } from '../../src/call/playback.js';
import { ShownPassages, WITHDRAWN_RESULT_NOTE } from '../../src/call/shown-passages.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, Tool } from '../../src/call/tool-types.js';
import { systemClock } from '../../src/call/types.js';
import type { RetrievedChunk, Retriever } from '../../src/knowledge/retrieve.js';
import { searchKnowledgeTool } from '../../src/knowledge/tool.js';
import type { ChatMessage, LlmProvider } from '../../src/providers/types.js';
import { ScriptedLlm } from '../helpers/scripted-providers.js';
import { useLlmVendorFakes } from '../helpers/llm-vendor-fakes.js';

const PRICES = 'Teeth whitening costs 350 dollars.';
const HOURS = 'We are open from nine to six.';
const chunk = (documentId: string, text: string, source: string): RetrievedChunk => ({
  id: `${documentId}-c`, documentId, generation: 1, text, source, page: null, section: null, score: 1, vectorScore: 1, textRank: null,
});
const chunks = [chunk('prices', PRICES, 'prices.txt'), chunk('hours', HOURS, 'hours.txt')];
const retriever = { search: async () => chunks } as unknown as Retriever;

/** The documents the company has now (id → generation), and how many times the call asked. */
function company() {
  const documents = new Map([['prices', 1], ['hours', 1]]);
  const state = { documents, reads: 0 };
  const passages = new ShownPassages(async (ids) => {
    state.reads++;
    return new Map(ids.filter((id) => documents.has(id)).map((id) => [id, documents.get(id)!]));
  });
  return { state, passages };
}

const contextWith = (passages: ShownPassages): CallContext => ({
  callId: 'c', botId: 'b', companyId: 'co', callerNumber: null, passages,
  bot: { id: 'b', name: 'B', language: 'en', config: { greeting: 'Hi', systemPrompt: '' } },
});
const playback = { say: () => {}, noteUnspoken: () => {}, phraseCount: 0, heardTranscript: () => '', phrasesInHistory: 0 } as unknown as Playback;
const control = { endCall: () => {}, transferCall: async () => {} };

/** The first turn of a call: the model looks the price up; the result enters the history. */
async function firstTurn(passages: ShownPassages, history: ChatMessage[]): Promise<void> {
  history.push({ role: 'user', content: 'How much is whitening?' });
  const llm = new ScriptedLlm((_r, i) => (i === 0 ? { toolCalls: [{ id: 'k1', name: 'search_knowledge', arguments: { query: 'whitening price' } }] } : 'It is 350 dollars.'), { firstTokenMs: 1, tokenMs: 0 });
  const result = await runAgentTurn({
    llm, tools: new ToolRegistry([searchKnowledgeTool(retriever)]), context: contextWith(passages), control, system: 'Base.',
    history, userText: 'How much is whitening?', playback, signal: new AbortController().signal, clock: systemClock,
  });
  history.push({ role: 'assistant', content: result.finalText });
  expect(JSON.stringify(history)).toContain(PRICES);
}

describe('passages of a document withdrawn mid-call', () => {
  const fakes = useLlmVendorFakes();

  const vendors: Array<[string, () => LlmProvider, () => unknown]> = [
    ['OpenAI', fakes.openAiLlm, () => fakes.openAi.requests.at(-1)!.body],
    ['Anthropic', fakes.anthropicLlm, () => fakes.anthropic.requests.at(-1)!.body],
  ];

  for (const [vendor, llm, lastBody] of vendors) {
    it(`are left out of the next request through the ${vendor} adapter: the earlier tool result and this answer's passages`, async () => {
      const { state, passages } = company();
      const history: ChatMessage[] = [];
      await firstTurn(passages, history);
      state.documents.delete('prices');
      history.push({ role: 'user', content: 'And when are you open?' });
      await runAgentTurn({
        llm: llm(), tools: new ToolRegistry([searchKnowledgeTool(retriever)]), context: contextWith(passages), control, system: 'Base.',
        history, userText: 'And when are you open?',
        // The turn's search read the price list a moment before the company deleted it.
        retrieveContext: async () => chunks,
        playback, signal: new AbortController().signal, clock: systemClock,
      });
      const sent = JSON.stringify(lastBody());
      expect(sent).not.toContain(PRICES);
      // What the bot said stays what it said; the note asks the model not to repeat facts from withdrawn documents.
      expect(sent).toContain('It is 350 dollars.');
      expect(sent).toContain(HOURS);
      expect(sent).toContain(JSON.stringify(WITHDRAWN_RESULT_NOTE).slice(1, -1));
      expect(sent).toContain('Withdrawn company documents');
      // The stored history keeps what happened; only what is sent is redacted.
      expect(JSON.stringify(history)).toContain(PRICES);
    });
  }

  it("are left out of the answer's next round when the document goes while its tools run", async () => {
    const { state, passages } = company();
    // A tool that takes its time; the company deletes the price list meanwhile.
    const slow: Tool = {
      spec: { name: 'check_availability', description: '', parameters: { type: 'object', properties: {} } },
      run: async () => {
        state.documents.delete('prices');
        return { content: { slots: [] } };
      },
    };
    const llm = new ScriptedLlm((_r, i) => (i === 0 ? { toolCalls: [{ id: 'a1', name: 'check_availability', arguments: {} }] } : 'Nothing free this week.'), { firstTokenMs: 1, tokenMs: 0 });
    await runAgentTurn({
      llm, tools: new ToolRegistry([slow]), context: contextWith(passages), control, system: 'Base.',
      history: [{ role: 'user', content: 'Can I book whitening?' }], userText: 'Can I book whitening?',
      retrieveContext: async () => chunks, playback, signal: new AbortController().signal, clock: systemClock,
    });
    expect(llm.requests[0]!.context).toContain(PRICES);
    expect(llm.requests[1]!.context).not.toContain(PRICES);
    expect(llm.requests[1]!.context).toContain(HOURS);
    expect(llm.requests[1]!.context).toContain(WITHDRAWN_NOTE);
    // One read per LLM request.
    expect(state.reads).toBe(2);
  });

  it('a replaced document (same id, a new version) counts as withdrawn; a call shown no passages reads nothing', async () => {
    const { state, passages } = company();
    const history: ChatMessage[] = [];
    await firstTurn(passages, history);
    state.documents.set('prices', 2);
    history.push({ role: 'user', content: 'Is that with the discount?' });
    const llm = new ScriptedLlm(() => 'Let me check.', { firstTokenMs: 1, tokenMs: 0 });
    await runAgentTurn({
      llm, tools: new ToolRegistry([]), context: contextWith(passages), control, system: 'Base.', history, userText: 'Is that with the discount?',
      playback, signal: new AbortController().signal, clock: systemClock,
    });
    expect(JSON.stringify(llm.requests[0]!.messages)).not.toContain(PRICES);
    expect(JSON.stringify(llm.requests[0]!.messages)).toContain(HOURS);

    const none = company();
    const quiet = new ScriptedLlm(() => 'Hello.', { firstTokenMs: 1, tokenMs: 0 });
    await runAgentTurn({
      llm: quiet, tools: new ToolRegistry([]), context: contextWith(none.passages), control, system: 'Base.',
      history: [{ role: 'user', content: 'Hi' }], userText: 'Hi', playback, signal: new AbortController().signal, clock: systemClock,
    });
    expect(none.state.reads).toBe(0);
  });
});
