/**
 * Qdrant as the vector store, through @qdrant/js-client-rest (1.18: `query()`, there is no `search()`).
 *
 * Layout: ONE collection for all tenants (per embedding model, since the vector size is fixed per collection),
 * with `company_id` as a keyword payload index marked `is_tenant: true` and keyword indexes on `bot_id` and
 * `doc_id`; every query is filtered by company AND bot, every delete by company and document.
 * Why not a collection per bot (or per company): Qdrant's multitenancy guide recommends one collection with
 * a tenant key — each collection carries its own HNSW graph, segments, WAL and optimizer threads, so thousands
 * of small collections waste memory and are slow to create, and Qdrant Cloud caps collections per cluster (1000).
 * `is_tenant` makes Qdrant co-locate each tenant's points on disk and build per-tenant index structures, so a
 * filtered query stays fast without a global graph traversal. Tenancy is enforced in one place (this adapter
 * always adds the filter) and Postgres remains the source of truth for the chunks themselves.
 * The client library (~17 MB with its undici) is imported on first use, so only a server with QDRANT_URL set
 * and knowledge in use loads it.
 * Queries run while a caller waits (a turn's retrieval, the search_knowledge tool): each request takes its caller's
 * signal, so one the caller stopped waiting for is cancelled at once instead of held open until the timeout. The
 * client's own `timeout` replaces any signal a request brings, so queries go through a second client without one,
 * the timeout folded into their signal.
 */
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { Db } from '../db/sql.js';
import type { DocumentRef, VectorHit, VectorPayload, VectorPoint, VectorQuery, VectorStore } from './vector-store.js';

export interface QdrantVectorStoreOptions {
  url: string;
  apiKey?: string;
  /** QDRANT_COLLECTION. */
  collection: string;
  /** The embedder's vector size; an existing collection of another size is refused. */
  dimensions: number;
  /** Per-request timeout, ms; default 10 s. */
  timeoutMs?: number;
  /** Points per upsert request; default 256. */
  batchSize?: number;
}

const keyword = (key: string, value: string) => ({ key, match: { value } });
/** Points of `generation`: points written before migration 0320 carry none, and are generation 0. */
const ofGenerations = (generations: number[]) => [
  { key: 'generation', match: { any: generations } },
  ...(generations.includes(0) ? [{ is_empty: { key: 'generation' } }] : []),
];

export class QdrantVectorStore implements VectorStore {
  readonly name = 'qdrant' as const;
  private ready: Promise<QdrantClient> | null = null;
  /** The client queries go through: no timeout of its own (see above). */
  private queries: Promise<QdrantClient> | null = null;

  constructor(private readonly options: QdrantVectorStoreOptions) {}

  /** Creates the collection and payload indexes if missing; runs once per instance (retried after a failure). */
  async init(): Promise<void> {
    await this.connected();
  }

  /** The client, once the schema is in place. */
  private connected(): Promise<QdrantClient> {
    this.ready ??= this.createSchema().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  /** A client whose requests give up after `timeout` ms (Infinity: only by the signal each request brings). */
  private async createClient(timeout: number): Promise<QdrantClient> {
    const { QdrantClient } = await import('@qdrant/js-client-rest');
    return new QdrantClient({
      url: this.options.url,
      ...(this.options.apiKey ? { apiKey: this.options.apiKey } : {}),
      timeout,
      checkCompatibility: false,
    });
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 10_000;
  }

  private async createSchema(): Promise<QdrantClient> {
    const client = await this.createClient(this.timeoutMs);
    const name = this.options.collection;
    const { exists } = await client.collectionExists(name);
    if (!exists) {
      try {
        await client.createCollection(name, { vectors: { size: this.options.dimensions, distance: 'Cosine' } });
      } catch (err) {
        // Another instance created it first.
        if ((err as { status?: number }).status !== 409) throw err;
      }
    } else {
      const info = await client.getCollection(name);
      const vectors = info.config.params.vectors as { size?: number } | undefined;
      if (vectors?.size !== undefined && vectors.size !== this.options.dimensions) {
        throw new Error(`Qdrant collection ${name} holds ${vectors.size}-dimension vectors but the embedder makes ${this.options.dimensions}; use another QDRANT_COLLECTION`);
      }
    }
    await client.createPayloadIndex(name, { field_name: 'company_id', field_schema: { type: 'keyword', is_tenant: true }, wait: true });
    await client.createPayloadIndex(name, { field_name: 'bot_id', field_schema: 'keyword', wait: true });
    await client.createPayloadIndex(name, { field_name: 'doc_id', field_schema: 'keyword', wait: true });
    return client;
  }

  async upsert(points: VectorPoint[], _tx?: Db): Promise<void> {
    const client = await this.connected();
    const size = this.options.batchSize ?? 256;
    for (let i = 0; i < points.length; i += size) {
      await client.upsert(this.options.collection, {
        wait: true,
        points: points.slice(i, i + size).map((p) => ({ id: p.id, vector: Array.from(p.vector), payload: { ...p.payload } })),
      });
    }
  }

  async deleteByDocument(ref: DocumentRef, _tx?: Db): Promise<void> {
    const client = await this.connected();
    await client.delete(this.options.collection, {
      wait: true,
      filter: {
        must: [keyword('company_id', ref.companyId), keyword('bot_id', ref.botId), keyword('doc_id', ref.documentId)],
        ...(ref.generation === undefined ? {} : { should: ofGenerations([ref.generation]) }),
      },
    });
  }

  async deleteOtherGenerations(ref: DocumentRef, keep: number[]): Promise<void> {
    const client = await this.connected();
    await client.delete(this.options.collection, {
      wait: true,
      filter: {
        must: [keyword('company_id', ref.companyId), keyword('bot_id', ref.botId), keyword('doc_id', ref.documentId)],
        // A version created since `keep` was read has a newer generation (a sequence): its points stay too.
        must_not: [...ofGenerations(keep), { key: 'generation', range: { gt: Math.max(...keep) } }],
      },
    });
  }

  async query(vector: Float32Array, filter: VectorQuery): Promise<VectorHit[]> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = filter.signal ? AbortSignal.any([filter.signal, timeout]) : timeout;
    await this.connected();
    this.queries ??= this.createClient(Infinity).catch((err: unknown) => {
      this.queries = null;
      throw err;
    });
    const client = await this.queries;
    const res = await client.api().queryPoints(
      {
        collection_name: this.options.collection,
        query: Array.from(vector),
        limit: filter.limit,
        with_payload: true,
        filter: { must: [keyword('company_id', filter.companyId), keyword('bot_id', filter.botId)] },
      },
      { signal },
    );
    filter.signal?.throwIfAborted();
    return (res.data.result?.points ?? []).map((p) => ({ id: String(p.id), score: p.score, payload: p.payload as unknown as VectorPayload }));
  }
}
