/**
 * The in-call tool `search_knowledge({ query })` → `{ results: [{ text, source, page?, section?, score }] }`.
 * The shape is a contract: the offline scenario engine reads it.
 */
import type { Tool } from '../call/tool-types.js';
import type { Retriever } from './retrieve.js';

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
        'Use the caller’s own words or the key terms as the query.',
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
      const chunks = await retriever.search({ companyId: ctx.companyId, botId: ctx.botId, language: ctx.bot.language }, query, { signal });
      const results: KnowledgeSearchResult[] = chunks.map((c) => ({
        text: c.text,
        source: c.source,
        ...(c.page !== null ? { page: c.page } : {}),
        ...(c.section ? { section: c.section } : {}),
        score: Math.round(c.score * 1000) / 1000,
      }));
      return { content: { results } };
    },
  };
}
