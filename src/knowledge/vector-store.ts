/**
 * Where chunk vectors are kept and searched. Two implementations: the embedded store (vectors in the Postgres
 * chunks table, scored in process; pg-vector-store.ts) and Qdrant (qdrant-vector-store.ts). Postgres stays the
 * source of truth for chunk text either way: retrieval keeps only hits whose chunk row still exists.
 */
import type { Db } from '../db/sql.js';

export interface VectorPayload {
  doc_id: string;
  bot_id: string;
  company_id: string;
  text: string;
  /** The uploaded file's name. */
  source: string;
  page: number | null;
  section: string | null;
  /** ISO timestamp. */
  created_at: string;
  /** The chunk's generation (knowledge_chunks.generation); absent on points written before migration 0320 (0). */
  generation?: number;
}

export interface VectorPoint {
  /** The chunk id (a UUID), also the point id in Qdrant. */
  id: string;
  vector: Float32Array;
  payload: VectorPayload;
}

export interface VectorHit {
  id: string;
  /** Cosine similarity (vectors are L2-normalised). */
  score: number;
  /** Absent when the query asked for ids only. */
  payload?: VectorPayload;
}

export interface VectorQuery {
  companyId: string;
  botId: string;
  limit: number;
  signal?: AbortSignal;
  /** The caller reads chunk rows itself (hybrid retrieval): skip fetching payloads. */
  idsOnly?: boolean;
}

export interface DocumentRef {
  companyId: string;
  botId: string;
  documentId: string;
  /** Only this generation of the document's vectors (a new version's); absent: all of them. */
  generation?: number;
}

export interface VectorStore {
  readonly name: 'postgres' | 'qdrant';
  /** Creates what the store needs (Qdrant: the collection and payload indexes). Idempotent. */
  init(): Promise<void>;
  /**
   * Stores vectors for chunks. `tx` is the transaction that writes the chunk rows: the embedded store writes in
   * it (so vectors commit with the chunks); an external store writes immediately and ignores it.
   */
  upsert(points: VectorPoint[], tx: Db): Promise<void>;
  /** Removes every vector of a document. The embedded store writes in `tx` when given. */
  deleteByDocument(ref: DocumentRef, tx?: Db): Promise<void>;
  /**
   * Removes the document's vectors of every generation but `keep` and those newer than all of `keep` (a replaced
   * or abandoned version's). Optional: the embedded store's vectors go with their chunk rows.
   */
  deleteOtherGenerations?(ref: DocumentRef, keep: number[]): Promise<void>;
  /** Nearest chunks of one bot of one company, best first. */
  query(vector: Float32Array, filter: VectorQuery): Promise<VectorHit[]>;
  /**
   * Gets ready to query the bot (the embedded store: reads its vectors into memory), so a call's first question
   * does not wait for it; a query meanwhile joins the read. Optional: a remote store has nothing to prepare.
   */
  prepare?(scope: { companyId: string; botId: string }): Promise<void>;
}

/** Float32Array → bytea (little-endian float32), and back without copying when aligned. */
export function vectorToBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function bytesToVector(b: Uint8Array): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return new Float32Array(new Uint8Array(b).buffer);
}
