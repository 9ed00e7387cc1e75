/**
 * The chunks and vectors of a document's versions that nothing reads any more: the replaced version's once a new
 * one is in use, an abandoned new version's once another replaced it. Searches read only the document's current
 * generation (repo.ts), so these are invisible from the moment they are stale; they are removed afterwards, a
 * batch per short transaction (a 50,000-chunk version in one would hold embedded PGlite's only connection for
 * seconds). Removing them again finds nothing: a run that stops midway (a crash) is finished by the next one.
 */
import type { RootSql } from '../db/sql.js';
import { deleteStaleChunks } from './repo.js';
import type { DocumentRef, VectorStore } from './vector-store.js';

/** Stale chunk rows deleted per transaction. */
const STALE_BATCH_ROWS = 250;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function removeStaleChunks(deps: { sql: RootSql; store: VectorStore }, ref: DocumentRef): Promise<void> {
  while ((await deps.sql.begin((tx) => deleteStaleChunks(tx, ref.documentId, STALE_BATCH_ROWS))) === STALE_BATCH_ROWS) await nextTurn();
  if (!deps.store.deleteOtherGenerations) return;
  const live = await deps.sql<{ generation: number }[]>`
    select generation from knowledge_documents where id = ${ref.documentId} or replaces_id = ${ref.documentId}`;
  // The document is gone: its vectors were removed with it.
  if (live.length === 0) return;
  await deps.store.deleteOtherGenerations(ref, live.map((r) => r.generation)).catch(() => {});
}
