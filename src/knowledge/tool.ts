/**
 * The in-call tool `search_knowledge({ query })` → `{ answer, results: [{ text, source, page?, section?, score }] }`.
 * `answer` is the best chunk's relevant sentence(s) as they would be said on the phone (src/knowledge/spoken-answer.ts);
 * the offline scenario engine speaks it, an LLM is told to answer in the same way. The shape is a contract.
 */
import type { Tool } from '../call/tool-types.js';
import type { Retriever } from './retrieve.js';
import { spokenAnswer } from './spoken-answer.js';

export interface KnowledgeSearchResult {
  text: string;
  source: string;
  page?: number;
  section?: string;
  score: number;
}

export function searchKnowledgeTool(retriever: Retriever): Tool {
  return {
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
      const chunks = await retriever.search({ companyId: ctx.companyId, botId: ctx.botId, language: ctx.bot.language }, query, { signal, onUsage: ctx.onEmbeddingUsage });
      const results: KnowledgeSearchResult[] = chunks.map((c) => ({
        text: c.text,
        source: c.source,
        ...(c.page !== null ? { page: c.page } : {}),
        ...(c.section ? { section: c.section } : {}),
        score: Math.round(c.score * 1000) / 1000,
      }));
      const answer = results[0] ? spokenAnswer(results[0].text, query, undefined, results[0].section) : null;
      return { content: { answer, results } };
    },
  };
}
