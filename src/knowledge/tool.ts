/**
 * The in-call tool `search_knowledge({ query })` → `{ answer, results: [{ text, source, page?, section?, score }] }`.
 * `answer` is the best chunk's relevant sentence(s) as they would be said on the phone (src/knowledge/spoken-answer.ts);
 * the offline scenario engine speaks it, an LLM is told to answer in the same way. The shape is a contract.
 *
 * The caller waits in silence while it searches, so the search has the budget of the search made before each answer
 * (RETRIEVAL_BUDGET_MS, 1.5 s), not the 8 s every tool of a turn has: a slow vector store or embedder is cut there —
 * its requests aborted — and the model is told to say it cannot look this up now. A fixed budget per search, rather
 * than what is left of one per turn, keeps the tool unaware of the turn's timing and bounds the silence all the same:
 * after one search of the turn has run out, the turn's later searches do not wait again (the store is slow now).
 */
import { RETRIEVAL_BUDGET_MS } from '../call/agent-turn.js';
import type { Tool } from '../call/tool-types.js';
import { boundedRead, markTurnSlow, ReadTimedOut, turnWasSlow } from '../util/bounded-read.js';
import type { Retriever } from './retrieve.js';
import { spokenAnswer } from './spoken-answer.js';

export interface KnowledgeSearchResult {
  text: string;
  source: string;
  page?: number;
  section?: string;
  score: number;
}

/** What the model is told when the documents did not answer in time. */
export const SEARCH_TIMED_OUT = {
  error: 'timed_out',
  message: 'The documents did not answer in time. Tell the caller you cannot look this up right now, do not search again in this answer, and offer another way (for example a call back).',
  results: [],
} as const;

export interface SearchKnowledgeOptions {
  /** How long one search may keep the caller waiting. Default RETRIEVAL_BUDGET_MS. */
  budgetMs?: number;
}

export function searchKnowledgeTool(retriever: Retriever, options: SearchKnowledgeOptions = {}): Tool {
  const budgetMs = options.budgetMs ?? RETRIEVAL_BUDGET_MS;
  return {
    lookupOnly: true,
    spec: {
      name: 'search_knowledge',
      description:
        "Search the company's documents (prices, services, policies, opening hours, FAQs) for facts needed to answer the caller. " +
        'Use the caller’s own words or the key terms as the query. Say the answer in one or two short spoken sentences ' +
        '(`answer` is one); never name the document and never read a table aloud.',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string', description: 'What to look up', minLength: 1, maxLength: 500 } },
        required: ['query'],
        additionalProperties: false,
      },
    },
    async run(args, ctx, _control, signal) {
      const query = typeof args.query === 'string' ? args.query.trim() : '';
      if (!query) return { content: { results: [] } };
      if (turnWasSlow(signal)) return { content: SEARCH_TIMED_OUT };
      const scope = { companyId: ctx.companyId, botId: ctx.botId, language: ctx.bot.language };
      let chunks;
      try {
        chunks = await boundedRead((s) => retriever.search(scope, query, { signal: s, onUsage: ctx.onEmbeddingUsage }), budgetMs, signal);
      } catch (err) {
        if (!(err instanceof ReadTimedOut)) throw err;
        markTurnSlow(signal);
        return { content: SEARCH_TIMED_OUT };
      }
      const results: KnowledgeSearchResult[] = chunks.map((c) => ({
        text: c.text,
        source: c.source,
        ...(c.page !== null ? { page: c.page } : {}),
        ...(c.section ? { section: c.section } : {}),
        score: Math.round(c.score * 1000) / 1000,
      }));
      const searchContent = (shown: KnowledgeSearchResult[]) =>
        ({ answer: shown[0] ? spokenAnswer(shown[0].text, query, undefined, shown[0].section) : null, results: shown });
      return {
        content: searchContent(results),
        // Which document version each result came from: the call leaves out the ones withdrawn since (shown-passages.ts).
        passages: {
          sources: chunks.map((c) => ({ documentId: c.documentId, generation: c.generation })),
          without: (gone) => searchContent(results.filter((_, i) => !gone(i))),
        },
      };
    },
  };
}
