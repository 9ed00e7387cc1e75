/**
 * The embedded vector store: vectors live in knowledge_chunks.embedding (bytea, float32) and are scored in
 * process by brute force over a per-bot in-memory matrix. No extension needed, so it runs on PGlite and on any
 * PostgreSQL server. The matrix holds the vectors of the bot's ready documents only: ingestion writes a document's
 * chunks and vectors in many short transactions while it is 'processing', and none of them is searched until the
 * transaction that makes it ready. The cache is keyed by bot and tagged with knowledge_index_versions.version,
 * which every change to what the matrix holds (a document becoming ready, a delete) bumps in its own transaction:
 * each query reads the version (one indexed row) and reloads on mismatch, so several instances stay correct
 * without notifications. A reload reads only what changed: the matrix is kept per document, tagged with the
 * document's updated_at (which every change to a ready document's vectors moves), so a document becoming ready
 * costs its own vectors, not the bot's.
 * Brute force is exact and, at 384 dimensions, a few milliseconds per 10,000 chunks, scored in slices with turns
 * of the event loop in between (bestRows) so that a large bot's search never holds every tenant's calls for long;
 * a bot has at most KNOWLEDGE_MAX_CHUNKS_PER_BOT chunks (default 50,000: ~77 MB of matrix, ~15–35 ms of scoring);
 * for more, use Qdrant.
 */
import type { Db } from '../db/sql.js';
import type { DocumentRef, VectorHit, VectorPoint, VectorQuery, VectorStore } from './vector-store.js';
import { vectorToBytes } from './vector-store.js';

export interface PgVectorStoreOptions {
  sql: Db;
  dimensions: number;
  /** Upper bound on vectors held in memory across all bots (least recently used bots are dropped). */
  maxCachedVectors?: number;
  /** Vectors read per query when a bot's matrix is loaded; default LOAD_PAGE_ROWS. */
  loadPageRows?: number;
  /** Vectors copied into a matrix between turns of the event loop while it is loaded; default LOAD_SLICE_ROWS. */
  loadSliceRows?: number;
  /** Multiply-adds a search scores between turns of the event loop; default SCORE_SLICE_MULTIPLY_ADDS. */
  scoreSliceMultiplyAdds?: number;
}

/** One ready document's vectors. */
interface DocumentBlock {
  /** The document's updated_at when read (as text, to the microsecond): moved, the vectors are read again. */
  stamp: string;
  ids: string[];
  /** ids.length × dimensions. */
  matrix: Float32Array;
}

interface BotMatrix {
  version: string;
  /** By document id. */
  blocks: Map<string, DocumentBlock>;
  /** Every block's ids, in the blocks' order: a row's index in the concatenated scores. */
  ids: string[];
}

export async function bumpIndexVersion(tx: Db, botId: string): Promise<void> {
  await tx`
    insert into knowledge_index_versions (bot_id, version) values (${botId}, 1)
    on conflict (bot_id) do update set version = knowledge_index_versions.version + 1`;
}

/**
 * The `k` largest scores seen so far, fed in index order (a block of rows at a time): the same selection as one
 * pass over all scores — an equal score never displaces an earlier index.
 */
export class TopK {
  /** Row indices, best first. */
  readonly idx: number[] = [];
  /** Their scores. */
  readonly val: number[] = [];
  constructor(private readonly k: number) {}

  /** Offers scores[0..count) as rows first..first+count. */
  add(scores: Float32Array, count: number, first = 0): void {
    const { idx, val, k } = this;
    if (k <= 0) return;
    for (let i = 0; i < count; i++) {
      const s = scores[i]!;
      if (idx.length === k && s <= val[k - 1]!) continue;
      let pos = idx.length === k ? k - 1 : idx.length;
      while (pos > 0 && val[pos - 1]! < s) {
        if (pos < k) {
          val[pos] = val[pos - 1]!;
          idx[pos] = idx[pos - 1]!;
        }
        pos--;
      }
      val[pos] = s;
      idx[pos] = first + i;
    }
  }
}

/** Indices of the `k` largest scores, best first. */
export function topK(scores: Float32Array, count: number, k: number): number[] {
  const best = new TopK(k);
  best.add(scores, count);
  return best.idx;
}

/**
 * scores[r] = dot(matrix row r, vector). Hashed (local) query vectors are sparse — a short question touches a
 * fifth of the dimensions — so the nonzero query dimensions are gathered first; dense vectors take an unrolled loop.
 */
export function scoreRows(matrix: Float32Array, n: number, dim: number, vector: Float32Array, scores: Float32Array): void {
  const nz: number[] = [];
  for (let j = 0; j < dim; j++) if (vector[j] !== 0) nz.push(j);
  if (nz.length < dim / 2) {
    const idx = Int32Array.from(nz);
    const val = Float32Array.from(nz, (j) => vector[j]!);
    const k = idx.length;
    for (let r = 0, off = 0; r < n; r++, off += dim) {
      let s = 0;
      for (let i = 0; i < k; i++) s += matrix[off + idx[i]!]! * val[i]!;
      scores[r] = s;
    }
    return;
  }
  const tail = dim - (dim % 4);
  for (let r = 0, off = 0; r < n; r++, off += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < tail; j += 4) {
      s0 += matrix[off + j]! * vector[j]!;
      s1 += matrix[off + j + 1]! * vector[j + 1]!;
      s2 += matrix[off + j + 2]! * vector[j + 2]!;
      s3 += matrix[off + j + 3]! * vector[j + 3]!;
    }
    for (let j = tail; j < dim; j++) s0 += matrix[off + j]! * vector[j]!;
    scores[r] = s0 + s1 + s2 + s3;
  }
}

/**
 * Vectors read per query when a bot's matrix is loaded (~1.5 MB at 384 dimensions). The driver decodes a page's rows
 * on the event loop as they arrive (bytea as hex text: twice the bytes), in bursts the loop cannot interleave: pages
 * of 5,000 rows held it longer (a 50,000-chunk bot's first load, 5 loads each on a busy machine: longest delay p50
 * 125 ms with 5,000, 84 ms with 1,000; bench:knowledge --event-loop) for about the same total time to load.
 */
const LOAD_PAGE_ROWS = 1_000;

/**
 * Vectors copied into a bot's matrix before a load gives the event loop a turn (~1.5 MB at 384 dimensions, well
 * under a millisecond). Built in one go once every page was read, a 50,000-chunk bot's matrix held the loop every
 * tenant's calls share for 60–100 ms (bench:knowledge --event-loop, "matrix read").
 */
export const LOAD_SLICE_ROWS = 1_000;

/**
 * Multiply-adds one search scores before it gives the event loop a turn: ~1–3 ms of a core. Every tenant's calls
 * share the loop, and scoring a bot in one go held it for the whole matrix (a 50,000-chunk bot: 15–30 ms per search
 * on a busy 2-core machine; 152,850 chunks: 60–180 ms); in slices of this size (2,600 rows at 384 dimensions, 650 at
 * 1,536) other work runs between them (bench:knowledge --event-loop). A bot this size or smaller is scored in one go.
 */
export const SCORE_SLICE_MULTIPLY_ADDS = 1_000_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The `k` best rows of the bot's matrix for `vector` (indices into `bot.ids`), scored a slice of rows at a time with
 * a turn of the event loop between slices. The same rows and scores as scoring all rows at once.
 */
export async function bestRows(
  blocks: readonly { ids: readonly string[]; matrix: Float32Array }[],
  dim: number,
  vector: Float32Array,
  k: number,
  options: { sliceMultiplyAdds?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<TopK> {
  const rowsInAll = blocks.reduce((sum, b) => sum + b.ids.length, 0);
  const sliceRows = Math.max(1, Math.min(rowsInAll, Math.floor((options.sliceMultiplyAdds ?? SCORE_SLICE_MULTIPLY_ADDS) / dim)));
  const scores = new Float32Array(sliceRows);
  const best = new TopK(k);
  let first = 0;
  let sinceTurn = 0;
  for (const block of blocks) {
    const rows = block.ids.length;
    for (let r = 0; r < rows;) {
      if (sinceTurn === sliceRows) {
        await nextTurn();
        options.signal?.throwIfAborted();
        sinceTurn = 0;
      }
      const count = Math.min(rows - r, sliceRows - sinceTurn);
      scoreRows(block.matrix.subarray(r * dim, (r + count) * dim), count, dim, vector, scores);
      best.add(scores, count, first + r);
      r += count;
      sinceTurn += count;
    }
    first += rows;
  }
  return best;
}

/** One document's matrix, filled row by row into a buffer sized for the rows expected. */
class MatrixBuilder {
  private readonly ids: string[] = [];
  private readonly matrix: Float32Array;
  private readonly bytes: Uint8Array;

  constructor(rows: number, private readonly dim: number) {
    this.matrix = new Float32Array(rows * dim);
    this.bytes = new Uint8Array(this.matrix.buffer);
  }

  add(id: string, vector: Uint8Array): void {
    if ((this.ids.length + 1) * this.dim > this.matrix.length) return;
    this.bytes.set(vector, this.ids.length * this.dim * 4);
    this.ids.push(id);
  }

  /** The rows added (fewer than expected when some changed between the reads). */
  done(): { ids: string[]; matrix: Float32Array } {
    const used = this.ids.length * this.dim;
    return { ids: this.ids, matrix: used === this.matrix.length ? this.matrix : this.matrix.subarray(0, used) };
  }
}

export class PgVectorStore implements VectorStore {
  readonly name = 'postgres' as const;
  private readonly cache = new Map<string, BotMatrix>();
  private readonly loading = new Map<string, Promise<BotMatrix>>();
  private readonly maxCached: number;
  /** Vectors read from the database since this store was made (how much reloads cost). */
  vectorsRead = 0;

  constructor(private readonly options: PgVectorStoreOptions) {
    this.maxCached = options.maxCachedVectors ?? 2_000_000;
  }

  async init(): Promise<void> {}

  /**
   * Sets the vectors of existing chunk rows and bumps the bots' index versions. Ingestion does not use it: it writes
   * each chunk's vector with its row (ChunkRow.embedding, batch by batch) and bumps the version when the document
   * becomes ready.
   */
  async upsert(points: VectorPoint[], tx: Db): Promise<void> {
    if (points.length === 0) return;
    const bots = new Set<string>();
    // 100 rows per statement: each is encoded (and, on embedded PGlite, executed) on the event loop that
    // carries calls, so each must stay a few milliseconds.
    for (let i = 0; i < points.length; i += 100) {
      const rows = points.slice(i, i + 100).map((p) => [p.id, vectorToBytes(p.vector)] as const);
      await tx`
        update knowledge_chunks c set embedding = v.embedding::bytea
        from (values ${tx(rows as unknown as string[][])}) as v (id, embedding)
        where c.id = v.id::uuid`;
    }
    for (const p of points) bots.add(p.payload.bot_id);
    // The documents' cached vectors are read again (each block is tagged with its document's updated_at).
    await tx`update knowledge_documents set updated_at = now() where id = any(${[...new Set(points.map((p) => p.payload.doc_id))]}::uuid[])`;
    for (const bot of bots) await bumpIndexVersion(tx, bot);
  }

  async deleteByDocument(ref: DocumentRef, tx?: Db): Promise<void> {
    const db = tx ?? this.options.sql;
    await db`update knowledge_chunks set embedding = null
             where document_id = ${ref.documentId} and company_id = ${ref.companyId} and bot_id = ${ref.botId}
               ${ref.generation === undefined ? db`` : db`and generation = ${ref.generation}`}`;
    await db`update knowledge_documents set updated_at = now() where id = ${ref.documentId}`;
    await bumpIndexVersion(db, ref.botId);
  }

  async query(vector: Float32Array, filter: VectorQuery): Promise<VectorHit[]> {
    const bot = await this.matrixFor(filter.companyId, filter.botId);
    filter.signal?.throwIfAborted();
    const dim = this.options.dimensions;
    const n = bot.ids.length;
    if (n === 0 || vector.length !== dim) return [];
    // `bot` stays as it is while the slices are scored: a reload meanwhile builds a new BotMatrix.
    const best = await bestRows([...bot.blocks.values()], dim, vector, Math.min(filter.limit, n), {
      signal: filter.signal,
      sliceMultiplyAdds: this.options.scoreSliceMultiplyAdds,
    });
    const ids = best.idx.map((i) => bot.ids[i]!);
    if (filter.idsOnly) return ids.map((id, j) => ({ id, score: best.val[j]! }));
    const score = new Map(ids.map((id, j) => [id, best.val[j]!]));
    // Looked up by primary key first (materialized), so stale statistics on a freshly filled table cannot make
    // the planner scan the whole bot through the (bot_id, company_id) index instead.
    const rows = await this.options.sql<
      { id: string; text: string; page: number | null; section: string | null; created_at: Date; document_id: string; filename: string }[]
    >`
      with c as materialized (select * from knowledge_chunks where id = any(${ids}::uuid[]))
      select c.id, c.text, c.page, c.section, c.created_at, c.document_id, d.filename
      from c join knowledge_documents d on d.id = c.document_id and d.status = 'ready' and d.generation = c.generation
      where c.company_id = ${filter.companyId} and c.bot_id = ${filter.botId}`;
    return rows
      .map((r) => ({
        id: r.id,
        score: score.get(r.id) ?? 0,
        payload: {
          doc_id: r.document_id,
          bot_id: filter.botId,
          company_id: filter.companyId,
          text: r.text,
          source: r.filename,
          page: r.page,
          section: r.section,
          created_at: r.created_at.toISOString(),
        },
      }))
      .sort((a, b) => b.score - a.score);
  }

  async prepare(scope: { companyId: string; botId: string }): Promise<void> {
    await this.matrixFor(scope.companyId, scope.botId);
  }

  /** Drops every cached matrix (tests, or after a bulk change made outside this store). */
  clearCache(): void {
    this.cache.clear();
  }

  private async matrixFor(companyId: string, botId: string): Promise<BotMatrix> {
    const key = `${companyId}:${botId}`;
    const [row] = await this.options.sql<{ version: bigint }[]>`select version from knowledge_index_versions where bot_id = ${botId}`;
    const version = String(row?.version ?? 0);
    const cached = this.cache.get(key);
    if (cached && cached.version === version) {
      this.cache.delete(key);
      this.cache.set(key, cached); // most recently used last
      return cached;
    }
    const inFlight = this.loading.get(key);
    if (inFlight) {
      const loaded = await inFlight;
      if (loaded.version === version) return loaded;
    }
    // The version is read before the rows: a change committed in between makes the next query reload again.
    const load = this.load(companyId, botId, version, cached);
    this.loading.set(key, load);
    try {
      const loaded = await load;
      this.cache.delete(key);
      this.cache.set(key, loaded);
      this.evict();
      return loaded;
    } finally {
      if (this.loading.get(key) === load) this.loading.delete(key);
    }
  }

  /**
   * The bot's matrix: the blocks of `previous` whose document is still ready and unchanged, and the vectors of the
   * others read in pages — first their ids (small), then the vectors LOAD_PAGE_ROWS at a time by primary key, so no
   * single query holds the database for the whole bot (on PGlite its only connection: one read of a 74,000-chunk
   * bot's vectors held it ~1.1 s for every tenant). A change committed meanwhile bumps the version, and the next
   * search reloads.
   */
  private async load(companyId: string, botId: string, version: string, previous: BotMatrix | undefined): Promise<BotMatrix> {
    const sql = this.options.sql;
    // Only ready documents: a document being ingested has some of its chunks written, and none may be searched.
    // A document's block is read again when its updated_at moves: a new version made ready moves it too.
    const ready = await sql<{ id: string; stamp: string }[]>`
      select id, updated_at::text as stamp from knowledge_documents
      where bot_id = ${botId} and company_id = ${companyId} and status = 'ready'
      order by id`;
    const blocks = new Map<string, DocumentBlock>();
    const stale: { id: string; stamp: string }[] = [];
    for (const d of ready) {
      const kept = previous?.blocks.get(d.id);
      if (kept?.stamp === d.stamp) blocks.set(d.id, kept);
      else {
        blocks.set(d.id, { stamp: d.stamp, ids: [], matrix: new Float32Array(0) });
        stale.push(d);
      }
    }
    if (stale.length > 0) await this.readBlocks(companyId, botId, stale.map((d) => d.id), blocks);
    return { version, blocks, ids: [...blocks.values()].flatMap((b) => b.ids) };
  }

  /**
   * Reads the vectors of `documentIds` (their current generation: a new version being written is not read) into
   * their (empty) blocks in `blocks`. Each document's matrix is allocated once its rows are counted and filled page
   * by page as they arrive, LOAD_SLICE_ROWS vectors at a time with a turn of the event loop between slices.
   */
  private async readBlocks(companyId: string, botId: string, documentIds: string[], blocks: Map<string, DocumentBlock>): Promise<void> {
    const dim = this.options.dimensions;
    const sql = this.options.sql;
    const wanted = await sql<{ id: string; document_id: string }[]>`
      select c.id, c.document_id from knowledge_chunks c
      join knowledge_documents d on d.id = c.document_id and d.generation = c.generation
      where c.document_id = any(${documentIds}::uuid[]) and c.company_id = ${companyId} and c.bot_id = ${botId}
        and c.embedding is not null and octet_length(c.embedding) = ${dim * 4}
      order by c.document_id, c.id`;
    const documentOf = new Map(wanted.map((r) => [r.id, r.document_id]));
    const rowsOf = new Map<string, number>();
    for (const r of wanted) rowsOf.set(r.document_id, (rowsOf.get(r.document_id) ?? 0) + 1);
    const building = new Map<string, MatrixBuilder>(documentIds.map((id) => [id, new MatrixBuilder(rowsOf.get(id) ?? 0, dim)]));
    const pageRows = Math.max(1, this.options.loadPageRows ?? LOAD_PAGE_ROWS);
    const sliceRows = Math.max(1, this.options.loadSliceRows ?? LOAD_SLICE_ROWS);
    for (let i = 0; i < wanted.length; i += pageRows) {
      if (i > 0) await nextTurn();
      const page = await sql<{ id: string; embedding: Buffer | null }[]>`
        select id, embedding from knowledge_chunks
        where id = any(${wanted.slice(i, i + pageRows).map((r) => r.id)}::uuid[]) and company_id = ${companyId} and bot_id = ${botId}
        order by id`;
      this.vectorsRead += page.length;
      for (let r = 0; r < page.length; r++) {
        if (r > 0 && r % sliceRows === 0) await nextTurn();
        const row = page[r]!;
        // A row changed between the two reads is left out; its change bumped the version.
        if (row.embedding?.length === dim * 4) building.get(documentOf.get(row.id) ?? '')?.add(row.id, row.embedding);
      }
    }
    for (const [documentId, built] of building) Object.assign(blocks.get(documentId)!, built.done());
  }

  private evict(): void {
    let total = 0;
    for (const m of this.cache.values()) total += m.ids.length;
    for (const [key, m] of this.cache) {
      if (total <= this.maxCached || this.cache.size === 1) break;
      this.cache.delete(key);
      total -= m.ids.length;
    }
  }
}
