/**
 * Hybrid retrieval for one bot: vector similarity (the configured store) and PostgreSQL full-text search (the
 * bot's language: 'english' or 'russian', passed explicitly), fused by reciprocal rank fusion (RRF, k = 60).
 * Each list has its own floor before fusion (vectors below `minVectorScore` do not count; a text hit must match
 * at least one query lexeme), the fused score is scaled to 0–1 (1 = first in both lists) and results below
 * `minScore` are dropped. Postgres is the source of truth: a hit whose chunk row is gone (or whose document is
 * not ready, or is not of the document's current version) is never returned, whatever an external index still holds.
 */
import type { Db } from '../db/sql.js';
import type { Embedder, EmbeddingTokens } from '../providers/types.js';
import { embeddingUsage, type EmbeddingUsage } from '../usage/ingest-usage.js';
import { tsConfigFor } from './repo.js';
import type { VectorStore } from './vector-store.js';

export interface RetrieverOptions {
  sql: Db;
  embedder: Embedder;
  store: VectorStore;
  /** Results per question (RETRIEVAL_TOP_K). */
  topK: number;
  /** Candidates taken from each list before fusion; default max(20, 5 × topK). */
  candidates?: number;
  /** Cosine floor for vector hits; default 0.2 (fits the local embedder; neural embedders want ~0.3). */
  minVectorScore?: number;
  /** Floor on the fused 0–1 score; default 0. */
  minScore?: number;
  /**
   * How long "this bot has (no) chunks" is trusted before it is re-read; default 2000 ms. Past it the old answer
   * is still used for the turn at hand while the re-read runs in the background (never a round trip on a turn).
   */
  presenceTtlMs?: number;
}

export interface BotScope {
  companyId: string;
  botId: string;
  language: 'en' | 'ru';
}

export interface RetrievedChunk {
  id: string;
  documentId: string;
  /** The document's version the chunk is of (knowledge_documents.generation): a replacement gets a new one. */
  generation: number;
  text: string;
  source: string;
  page: number | null;
  section: string | null;
  /** Fused score, 0–1. */
  score: number;
  vectorScore: number | null;
  textRank: number | null;
}

const RRF_K = 60;
/**
 * Ranking reads every matching row's tsvector; a question sharing a common word with most of a large bot's chunks
 * would rank thousands. Past this many matches the text list is a sample — the vector list still sees every chunk.
 */
const FTS_RANK_CAP = 400;
/** Words of a question searched in the full-text half (a spoken question rarely has more that are not stop words). */
const MAX_QUERY_LEXEMES = 24;

export class Retriever {
  /** botId → whether it has chunks, and until when that answer is fresh. */
  private readonly presence = new Map<string, { has: boolean; until: number }>();
  /** botId → the read in flight, so a call start, its first turn and other calls share one query. */
  private readonly reading = new Map<string, Promise<boolean>>();
  /** Bumped by invalidate(): a read that started before it must not write its (possibly stale) answer back. */
  private generation = 0;

  constructor(private readonly options: RetrieverOptions) {}

  /** A bot's chunks changed in this process: forget what we knew (other instances wait out the TTL). */
  invalidate(botId?: string): void {
    this.generation++;
    if (botId) {
      this.presence.delete(botId);
      this.reading.delete(botId);
    } else {
      this.presence.clear();
      this.reading.clear();
    }
  }

  /** Reads (or joins the read of) whether the bot has chunks; a call start uses it so the first turn pays nothing. */
  warm(scope: BotScope): Promise<boolean> {
    const inFlight = this.reading.get(scope.botId);
    if (inFlight) return inFlight;
    const generation = this.generation;
    const read = this.options.sql<{ has: boolean }[]>`
      select exists(select 1 from knowledge_chunks where company_id = ${scope.companyId} and bot_id = ${scope.botId}) as has`
      .then(([row]) => {
        const has = Boolean(row?.has);
        if (this.generation === generation) this.presence.set(scope.botId, { has, until: Date.now() + (this.options.presenceTtlMs ?? 2000) });
        // A bot with documents: its vectors are read now, during the greeting, not on the caller's first question
        // (a large bot's first read takes seconds on the embedded store, past the turn's retrieval budget).
        if (has) this.options.store.prepare?.(scope).catch(() => {});
        return has;
      })
      .finally(() => {
        if (this.reading.get(scope.botId) === read) this.reading.delete(scope.botId);
      });
    this.reading.set(scope.botId, read);
    return read;
  }

  /**
   * Most turns of most calls go to bots without documents; answering those from memory keeps three database
   * round trips off every turn's path to the LLM. Only a bot never seen before waits for the database.
   */
  private async hasChunks(scope: BotScope): Promise<boolean> {
    const known = this.presence.get(scope.botId);
    if (!known) return this.warm(scope);
    if (known.until <= Date.now() && !this.reading.has(scope.botId)) this.warm(scope).catch(() => {}); // next turn retries
    return known.has;
  }

  /**
   * `onUsage` hears the embedding tokens of the question (what the vendor billed, or the estimate for an embedder
   * that reports none) once the question is embedded — a call adds them to its usage, the REST search records them.
   */
  async search(
    scope: BotScope, query: string,
    opts: { signal?: AbortSignal; limit?: number; onUsage?: ((usage: EmbeddingUsage) => void) | undefined } = {},
  ): Promise<RetrievedChunk[]> {
    const text = query.trim().slice(0, 2000);
    if (!text) return [];
    if (!(await this.hasChunks(scope))) return [];
    const limit = opts.limit ?? this.options.topK;
    const candidates = this.options.candidates ?? Math.max(20, limit * 5);
    const minVector = this.options.minVectorScore ?? 0.2;

    const [vector] = await this.embedQuestion(text, opts.signal, opts.onUsage);
    // Read twice at most: a document replaced between the candidates' read and the chunks' (its new version made
    // current, the old chunks no longer answer) leaves the first read's ids stale — neither version would answer.
    for (let attempt = 0; ; attempt++) {
      const found = await this.rankedChunks(scope, text, vector, limit, candidates, minVector, opts.signal);
      if (!found.stale || attempt === 1) return found.chunks;
    }
  }

  /** One read of the bot's candidates and their chunks; `stale` when a candidate's chunk no longer answers. */
  private async rankedChunks(
    scope: BotScope, text: string, vector: Float32Array | undefined, limit: number, candidates: number, minVector: number, signal: AbortSignal | undefined,
  ): Promise<{ chunks: RetrievedChunk[]; stale: boolean }> {
    const [vectorHits, textHits] = await Promise.all([
      vector ? this.options.store.query(vector, { companyId: scope.companyId, botId: scope.botId, limit: candidates, signal, idsOnly: true }) : [],
      this.textSearch(scope, text, candidates),
    ]);
    signal?.throwIfAborted();

    const fused = new Map<string, { rrf: number; vectorScore: number | null; textRank: number | null }>();
    vectorHits
      .filter((h) => h.score >= minVector)
      .forEach((h, rank) => fused.set(h.id, { rrf: 1 / (RRF_K + rank + 1), vectorScore: h.score, textRank: null }));
    textHits.forEach((h, rank) => {
      const entry = fused.get(h.id) ?? { rrf: 0, vectorScore: null, textRank: null };
      entry.rrf += 1 / (RRF_K + rank + 1);
      entry.textRank = h.rank;
      fused.set(h.id, entry);
    });
    const best = 2 / (RRF_K + 1);
    const minScore = this.options.minScore ?? 0;
    const ranked = [...fused.entries()]
      .map(([id, e]) => ({ id, ...e, score: e.rrf / best }))
      .filter((e) => e.score >= minScore)
      .sort((a, b) => b.score - a.score || (b.vectorScore ?? 0) - (a.vectorScore ?? 0));
    if (ranked.length === 0) return { chunks: [], stale: false };

    // Fetch a few spare candidates in case some chunk rows were deleted since the index was read.
    const wanted = ranked.slice(0, limit * 2);
    const rows = await this.chunkRows(scope, wanted.map((e) => e.id));
    const out: RetrievedChunk[] = [];
    for (const e of wanted) {
      const row = rows.get(e.id);
      if (!row) continue;
      out.push({ id: e.id, documentId: row.document_id, generation: row.generation, text: row.text, source: row.filename, page: row.page, section: row.section, score: e.score, vectorScore: e.vectorScore, textRank: e.textRank });
      if (out.length === limit) break;
    }
    return { chunks: out, stale: rows.size < wanted.length };
  }

  private async embedQuestion(text: string, signal: AbortSignal | undefined, onUsage: ((usage: EmbeddingUsage) => void) | undefined): Promise<Float32Array[]> {
    const embedder = this.options.embedder;
    if (!onUsage) return embedder.embed([text], signal);
    const billed: EmbeddingTokens = { tokens: 0 };
    const vectors = await embedder.embed([text], signal, billed);
    const estimate = embeddingUsage(embedder, [text]);
    onUsage(billed.tokens > 0 ? { ...estimate, tokens: billed.tokens } : estimate);
    return vectors;
  }

  /**
   * The call loop's view for one bot: context for a turn's prompt, or null when nothing relevant was found.
   * `onUsage` hears every question's embedding tokens (the call's usage meter).
   */
  forBot(scope: BotScope, onUsage?: (usage: EmbeddingUsage) => void): BotRetriever {
    return {
      warm: () => this.warm(scope),
      search: (query, signal) => this.search(scope, query, { signal, onUsage }),
    };
  }

  private async textSearch(scope: BotScope, text: string, limit: number): Promise<{ id: string; rank: number }[]> {
    // The question's lexemes, stemmed by the bot's config; the tsquery is built from them verbatim (no re-stemming)
    // and cast once, as a constant.
    const config = tsConfigFor(scope.language);
    // In the order they were said, up to MAX_QUERY_LEXEMES: unnest() lists a tsvector alphabetically, and the first
    // 8 of those dropped "warranty" from "…I bought a cleaner… about the warranty".
    const [row] = await this.options.sql<{ lexemes: string[] | null }[]>`
      select array_agg(lexeme order by positions[1]) as lexemes from unnest(to_tsvector(${config}::regconfig, ${text}))`;
    const lexemes = (row?.lexemes ?? []).slice(0, MAX_QUERY_LEXEMES).map((l) => `'${l.replace(/'/g, "''")}'`);
    if (lexemes.length === 0) return [];
    // An OR of the lexemes: an AND of every word of a spoken question would rarely match anything. Passed as a
    // constant so the planner can use the GIN index on tsv.
    return this.ftsQuery(scope, lexemes.join(' | '), limit);
  }

  private ftsQuery(scope: BotScope, tsquery: string, limit: number) {
    return this.options.sql<{ id: string; rank: number }[]>`
      select c.id, ts_rank(c.tsv, ${tsquery}::tsquery) as rank
      from (
        select id, tsv from knowledge_chunks k
        where tsv @@ ${tsquery}::tsquery and company_id = ${scope.companyId} and bot_id = ${scope.botId}
          -- Chunks of a document still being written (in batches) take no place from a ready one's, nor do a new
          -- version's (written under the document it replaces, in a generation of its own) or a replaced one's.
          and exists (select 1 from knowledge_documents d where d.id = k.document_id and d.status = 'ready' and d.generation = k.generation)
        limit ${FTS_RANK_CAP}
      ) c
      order by rank desc, c.id
      limit ${limit}`;
  }

  private async chunkRows(scope: BotScope, ids: string[]) {
    const rows = await this.options.sql<
      { id: string; document_id: string; generation: number; text: string; page: number | null; section: string | null; filename: string }[]
    >`
      with c as materialized (select * from knowledge_chunks where id = any(${ids}::uuid[]))
      select c.id, c.document_id, c.generation, c.text, c.page, c.section, d.filename
      from c join knowledge_documents d on d.id = c.document_id and d.status = 'ready' and d.generation = c.generation
      where c.company_id = ${scope.companyId} and c.bot_id = ${scope.botId}`;
    return new Map(rows.map((r) => [r.id, r]));
  }
}

export interface BotRetriever {
  /** Reads whether the bot has documents ahead of its first turn. */
  warm(): Promise<boolean>;
  search(query: string, signal?: AbortSignal): Promise<RetrievedChunk[]>;
}

export function sourceLabel(c: Pick<RetrievedChunk, 'source' | 'page' | 'section'>): string {
  return [c.source, c.page !== null ? `page ${c.page}` : null, c.section ? `section "${c.section}"` : null].filter(Boolean).join(', ');
}

/** A passage as a turn's prompt shows it, with the document version it came from (call/shown-passages.ts). */
export type PromptPassage = Pick<RetrievedChunk, 'documentId' | 'generation' | 'text' | 'source' | 'page' | 'section'>;

export function formatForPrompt(chunks: readonly PromptPassage[]): string | null {
  if (chunks.length === 0) return null;
  return chunks.map((c, i) => `[${i + 1}] Source: ${sourceLabel(c)}\n${c.text}`).join('\n\n');
}
