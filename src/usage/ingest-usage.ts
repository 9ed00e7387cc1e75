/**
 * Usage outside calls: the embedding tokens of knowledge ingestion (ingest_usage, migrations/0150). Written by the
 * ingestion in the transaction that makes the document ready, so a job that runs twice is counted once.
 *
 * A cloud embedder's tokens are what the vendor billed (OpenAI's `usage.prompt_tokens`, counted by the embedder
 * as it goes). The local hashing embedder (run in the ingestion worker) is provider `local`, model `local-hash`,
 * priced 0, with tokens estimated from the text (about one per 3 characters, the estimate batches are sized by).
 */
import type { Db } from '../db/sql.js';
import { estimateTokens } from '../providers/embeddings/openai.js';
import type { Embedder } from '../providers/types.js';

export interface EmbeddingUsage {
  provider: string;
  model: string;
  tokens: number;
}

/** Provider and model an embedder's usage is recorded under. */
export function embeddingSource(embedder: Embedder): { provider: string; model: string } {
  if (embedder.name === 'local-hash') return { provider: 'local', model: 'local-hash' };
  return { provider: embedder.name, model: embedder.model ?? '' };
}

/** The estimated tokens of `texts` embedded by `embedder` (for an embedder that reports none). */
export function embeddingUsage(embedder: Embedder, texts: Iterable<string>): EmbeddingUsage {
  let tokens = 0;
  for (const t of texts) tokens += estimateTokens(t.length > 0 ? t : ' ');
  return { ...embeddingSource(embedder), tokens };
}

export async function writeIngestUsage(
  db: Db,
  row: { companyId: string; botId: string | null; documentId: string | null; usage: EmbeddingUsage },
): Promise<void> {
  if (!(row.usage.tokens > 0)) return;
  await db`
    insert into ingest_usage (company_id, bot_id, document_id, kind, provider, model, quantity)
    values (${row.companyId}, ${row.botId}, ${row.documentId}, 'embedding_tokens', ${row.usage.provider.slice(0, 64) || 'unknown'},
      ${row.usage.model.slice(0, 200)}, ${Math.round(row.usage.tokens)})`;
}
