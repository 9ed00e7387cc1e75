/**
 * How much knowledge one tenant may keep: documents and stored bytes per company, chunks per bot. Without them one
 * company's uploads (25 × 4 MiB texts → 152,850 chunks in one bot, in seconds) grew a bot's in-memory vector matrix
 * past 500 MB and made every search of it hold the event loop all tenants' calls share.
 *
 * Uploads are counted under a lock on the company row, the pattern BOTS_MAX_PER_COMPANY uses, so two uploads at
 * once cannot both take the last room. A document's chunks are known only once it is parsed: ingestion checks the
 * bot's total before it embeds and again, under a lock on the bot row, in the transaction that makes the document
 * ready (ingest.ts). Only what an upload adds counts: the same bytes again, or a failed document retried, add
 * nothing; a document being ingested again is counted instead of its earlier self. A new version of a document
 * (documents.ts, replace) is counted net, as the document will be once it is ready: no new document, its bytes
 * instead of the document's (and of any earlier pending version's), its chunks instead of the document's.
 */
import type { Db } from '../db/sql.js';
import { conflict, type ParleyError } from '../errors.js';

export interface KnowledgeQuotas {
  /** KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY: documents of all the company's bots, whatever their status. */
  maxDocumentsPerCompany: number;
  /** KNOWLEDGE_MAX_BYTES_PER_COMPANY: uploaded bytes the company's documents keep stored. */
  maxBytesPerCompany: number;
  /** KNOWLEDGE_MAX_CHUNKS_PER_BOT: chunks of the bot's ready documents. */
  maxChunksPerBot: number;
}

/** The settings' defaults (src/config.ts; README says why). */
export const DEFAULT_KNOWLEDGE_QUOTAS: KnowledgeQuotas = {
  maxDocumentsPerCompany: 2_000,
  maxBytesPerCompany: 1024 * 1024 * 1024,
  maxChunksPerBot: 50_000,
};

const count = (n: number): string => n.toLocaleString('en-US');
const size = (n: number): string => {
  if (n < 1024) return `${count(n)} bytes`;
  const [unit, div] = n < 1024 * 1024 ? ['KiB', 1024] : ['MiB', 1024 * 1024];
  return `${(n / div).toLocaleString('en-US', { maximumFractionDigits: 1 })} ${unit}`;
};

/** 409 naming the limit, what is used and what the limit is (also in `details`, for clients). */
const overQuota = (message: string, limit: string, max: number, used: number): ParleyError => conflict(message, { limit, max, used });

/**
 * Serialises the company's uploads (and bot creation, which takes the same row) until the transaction ends. NO KEY
 * UPDATE, not UPDATE: rows that merely reference the company (an ingestion's webhook event, a call) still insert
 * meanwhile, so an upload waiting on a document row another transaction holds cannot deadlock with it.
 */
export async function lockCompanyQuota(tx: Db, companyId: string): Promise<void> {
  await tx`select 1 from companies where id = ${companyId} for no key update`;
}

/** Serialises the transactions that make the bot's documents ready (see lockCompanyQuota for NO KEY UPDATE). */
export async function lockBotQuota(tx: Db, botId: string): Promise<void> {
  await tx`select 1 from bots where id = ${botId} for no key update`;
}

/** Chunks of the bot's ready documents, other than `exceptDocumentIds`. */
export async function readyChunksOfBot(db: Db, botId: string, ...exceptDocumentIds: (string | null)[]): Promise<number> {
  const except = exceptDocumentIds.filter((id): id is string => Boolean(id));
  const [row] = await db<{ n: string }[]>`
    select coalesce(sum(chunk_count), 0)::bigint::text as n from knowledge_documents
    where bot_id = ${botId} and status = 'ready' ${except.length > 0 ? db`and id <> all(${except}::uuid[])` : db``}`;
  return Number(row?.n ?? 0);
}

/** Whether the bot already has a document of these bytes (then an upload of them creates nothing). */
async function botHasBytes(db: Db, companyId: string, botId: string, sha256: string): Promise<boolean> {
  const rows = await db`select 1 from knowledge_documents where bot_id = ${botId} and company_id = ${companyId} and sha256 = ${sha256}`;
  return rows.length > 0;
}

/**
 * The company's documents (pending new versions are not documents) and the bytes stored for all its rows, leaving
 * out document `replacing` and its pending new version (a replacement counts instead of them).
 */
async function companyUse(tx: Db, companyId: string, replacing?: string): Promise<{ documents: number; bytes: number }> {
  const [use] = await tx<{ documents: number; bytes: string }[]>`
    select count(*) filter (where replaces_id is null)::int as documents, coalesce(sum(size_bytes), 0)::bigint::text as bytes
    from knowledge_documents
    where company_id = ${companyId} ${replacing ? tx`and id <> ${replacing} and replaces_id is distinct from ${replacing}` : tx``}`;
  return { documents: use?.documents ?? 0, bytes: Number(use?.bytes ?? 0) };
}

/**
 * Refuses (409) an upload that would create a document past a quota. Call under lockCompanyQuota, in the
 * transaction that inserts the document. An upload of bytes the bot already has passes: it creates nothing.
 */
export async function checkUploadQuotas(
  tx: Db,
  upload: { companyId: string; botId: string; sha256: string; size: number },
  quotas: KnowledgeQuotas,
): Promise<void> {
  if (await botHasBytes(tx, upload.companyId, upload.botId, upload.sha256)) return;
  const { documents, bytes } = await companyUse(tx, upload.companyId);
  if (documents >= quotas.maxDocumentsPerCompany) {
    throw overQuota(
      `This company has ${count(documents)} knowledge documents, the most this server allows (KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY); delete one first`,
      'KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY', quotas.maxDocumentsPerCompany, documents,
    );
  }
  await checkBytesAndChunks(tx, upload, bytes, await readyChunksOfBot(tx, upload.botId), quotas);
}

/**
 * Refuses (409) a new version of document `replacing` that would leave the company past a quota once it is in
 * use: counted net (no new document; its bytes and later its chunks instead of the document's). Call under
 * lockCompanyQuota, in the transaction that inserts the version.
 */
export async function checkReplaceQuotas(
  tx: Db,
  upload: { companyId: string; botId: string; size: number; replacing: string },
  quotas: KnowledgeQuotas,
): Promise<void> {
  const { bytes } = await companyUse(tx, upload.companyId, upload.replacing);
  await checkBytesAndChunks(tx, upload, bytes, await readyChunksOfBot(tx, upload.botId, upload.replacing), quotas);
}

async function checkBytesAndChunks(
  tx: Db,
  upload: { botId: string; size: number },
  bytes: number,
  chunks: number,
  quotas: KnowledgeQuotas,
): Promise<void> {
  if (bytes + upload.size > quotas.maxBytesPerCompany) {
    throw overQuota(
      `This company's knowledge documents take ${size(bytes)}; this file's ${size(upload.size)} would pass the ${size(quotas.maxBytesPerCompany)} ` +
        'limit (KNOWLEDGE_MAX_BYTES_PER_COMPANY); delete documents first',
      'KNOWLEDGE_MAX_BYTES_PER_COMPANY', quotas.maxBytesPerCompany, bytes,
    );
  }
  if (chunks >= quotas.maxChunksPerBot) {
    throw overQuota(
      `This bot's documents have ${count(chunks)} chunks, the most this server allows (KNOWLEDGE_MAX_CHUNKS_PER_BOT); delete documents first`,
      'KNOWLEDGE_MAX_CHUNKS_PER_BOT', quotas.maxChunksPerBot, chunks,
    );
  }
}

/** Why ingestion refused a document that would take its bot past KNOWLEDGE_MAX_CHUNKS_PER_BOT, or null. */
export function chunkQuotaFailure(otherChunks: number, documentChunks: number, maxChunksPerBot: number): string | null {
  if (otherChunks + documentChunks <= maxChunksPerBot) return null;
  return `The document cuts into ${count(documentChunks)} chunks and the bot's other documents have ${count(otherChunks)}: more than the ` +
    `${count(maxChunksPerBot)} a bot may have (limit KNOWLEDGE_MAX_CHUNKS_PER_BOT); delete documents or split the knowledge between bots`;
}
