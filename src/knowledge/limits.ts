/**
 * How far one uploaded document may expand while it is ingested. An upload is at most UPLOAD_MAX_BYTES, but a
 * 300 KB DOCX can inflate to gigabytes (a zip bomb), a PDF can hold thousands of pages, and a text can cut into
 * tens of thousands of chunks; each of these is bounded here and a document over a bound ends in `error` with
 * a message naming the limit. Parsing runs in a worker process whose whole memory (heap and buffers) is limited,
 * with a timeout (ingest-pool.ts), which catches whatever these checks cannot see in advance.
 */

/** A permanent failure: the same bytes will never ingest, so the job must not retry. The message is for users. */
export class DocumentParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentParseError';
  }
}

export interface IngestLimits {
  /** Decompressed bytes of all entries of an archive (DOCX), as declared and as actually inflated. */
  maxExpandedBytes: number;
  /** Decompressed bytes of an archive's XML parts (what the DOCX parser builds a tree of). */
  maxXmlBytes: number;
  /** PDF pages. */
  maxPages: number;
  /** Characters of text, decoded (plain text) or extracted (PDF, DOCX, CSV). */
  maxChars: number;
  /** Chunks one document may produce. */
  maxChunks: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxExpandedBytes: 64 * 1024 * 1024,
  maxXmlBytes: 8 * 1024 * 1024,
  maxPages: 2000,
  maxChars: 25_000_000,
  maxChunks: 50_000,
};

/** What an ingestion worker process writes to stderr when its memory watchdog kills it (ingest-worker.ts). */
export const WORKER_OVER_BUDGET = 'ingest-worker: memory over budget';
/** What an ingestion worker process writes to stderr when it ends itself past its task's deadline (ingest-worker.ts). */
export const WORKER_PAST_DEADLINE = 'ingest-worker: past its deadline';

/** Entries in one archive; a DOCX has a few dozen. */
export const MAX_ARCHIVE_ENTRIES = 10_000;
/**
 * Columns (fields) in one CSV row: a spreadsheet's 16,384. Checked per field while a row is read: 20 MB of commas
 * on one line was 20 million empty fields in one record, 1.1 GB in the worker, which then failed the document for
 * memory instead of saying what is wrong with the file.
 */
export const MAX_CSV_COLUMNS = 16_384;
/** Blocks (paragraphs, headings, CSV rows) one document may parse into. */
export const MAX_BLOCKS = 1_000_000;

const fmtBytes = (n: number): string => (n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${Math.round(n / 1024)} KiB`);
const fmtCount = (n: number): string => n.toLocaleString('en-US');

export const limitExceeded = {
  expanded: (limit: number) =>
    new DocumentParseError(`The DOCX file expands to more than ${fmtBytes(limit)} when decompressed (limit INGEST_MAX_EXPANDED_BYTES); it may be a zip bomb`),
  xml: (limit: number) =>
    new DocumentParseError(`The DOCX file's XML expands to more than ${fmtBytes(limit)} (limit INGEST_MAX_XML_BYTES); split the document or save it as PDF`),
  entries: () => new DocumentParseError(`The DOCX file has more than ${fmtCount(MAX_ARCHIVE_ENTRIES)} parts`),
  pages: (pages: number, limit: number) =>
    new DocumentParseError(`The PDF has ${fmtCount(pages)} pages, more than the ${fmtCount(limit)}-page limit (INGEST_MAX_PAGES); split it`),
  chars: (limit: number) =>
    new DocumentParseError(`The document has more than ${fmtCount(limit)} characters of text (limit INGEST_MAX_CHARS); split it`),
  chunks: (limit: number) =>
    new DocumentParseError(`The document cuts into more than ${fmtCount(limit)} chunks (limit INGEST_MAX_CHUNKS); split it`),
  columns: () => new DocumentParseError(`The CSV file has a row of more than ${fmtCount(MAX_CSV_COLUMNS)} columns; check its delimiter or split it`),
  blocks: (what: string) => new DocumentParseError(`The document has more than ${fmtCount(MAX_BLOCKS)} ${what}; split it`),
};
