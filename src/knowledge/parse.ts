/**
 * Parses an upload of a known kind into blocks, within the ingestion limits (limits.ts). Every failure is a
 * DocumentParseError with a message for users.
 */
import type { ParsedDocument } from './blocks.js';
import { decodeText, notTextMessage, type DocumentKind } from './detect-type.js';
import { DEFAULT_INGEST_LIMITS, DocumentParseError, limitExceeded, MAX_BLOCKS, type IngestLimits } from './limits.js';
import { parseCsv } from './parse-csv.js';
import { parseDocx } from './parse-docx.js';
import { parsePdf } from './parse-pdf.js';
import { parseMarkdown, parsePlainText } from './parse-text.js';

export { DocumentParseError } from './limits.js';

const NAMES: Record<DocumentKind, string> = { pdf: 'PDF', docx: 'DOCX', txt: 'text', md: 'Markdown', csv: 'CSV' };

async function parseKind(kind: DocumentKind, bytes: Uint8Array, limits: IngestLimits): Promise<ParsedDocument> {
  if (kind === 'pdf') return parsePdf(bytes, limits);
  if (kind === 'docx') return parseDocx(bytes, limits);
  const text = decodeText(bytes);
  if (text === null) throw new DocumentParseError(notTextMessage(bytes, 'The file is not valid UTF-8 or UTF-16 text'));
  const body = text.replace(/^\uFEFF/, '');
  if (body.length > limits.maxChars) throw limitExceeded.chars(limits.maxChars);
  if (kind === 'csv') return parseCsv(body);
  if (kind === 'md') return parseMarkdown(body);
  return parsePlainText(body);
}

export async function parseDocument(kind: DocumentKind, bytes: Uint8Array, limits: IngestLimits = DEFAULT_INGEST_LIMITS): Promise<ParsedDocument> {
  let parsed: ParsedDocument;
  try {
    parsed = await parseKind(kind, bytes, limits);
  } catch (err) {
    if (err instanceof DocumentParseError) throw err;
    // A parser that walks the document recursively (mammoth over DOCX XML) runs out of stack on thousands of
    // nested elements: the file's shape, said as such rather than as "Maximum call stack size exceeded".
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new DocumentParseError(`The ${NAMES[kind]} file is nested too deeply to read (elements inside elements, thousands of levels); save it again or as PDF`);
    }
    const reason = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : 'unknown error';
    throw new DocumentParseError(`The ${NAMES[kind]} file could not be read (it may be corrupt): ${reason}`);
  }
  if (parsed.blocks.length > MAX_BLOCKS) throw limitExceeded.blocks('paragraphs');
  let chars = 0;
  for (const b of parsed.blocks) {
    // Control characters a PDF or DOCX may carry (NUL above all: PostgreSQL text cannot store it) never
    // reach a chunk; tabs and newlines stay.
    // eslint-disable-next-line no-control-regex -- stripping control characters is the point
    if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(b.text)) b.text = b.text.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
    chars += b.text.length;
  }
  if (chars > limits.maxChars) throw limitExceeded.chars(limits.maxChars);
  if (!parsed.blocks.some((b) => b.type === 'text' && b.text.trim())) {
    throw new DocumentParseError(
      kind === 'pdf' ? 'The PDF has no extractable text (scanned PDFs need OCR first)' : `The ${NAMES[kind]} file contains no text`,
    );
  }
  return parsed;
}
