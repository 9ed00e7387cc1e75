/** Parses an upload of a known kind into blocks. Every failure is a DocumentParseError with a message for users. */
import type { ParsedDocument } from './blocks.js';
import { decodeText, type DocumentKind } from './detect-type.js';
import { parseCsv } from './parse-csv.js';
import { parseDocx } from './parse-docx.js';
import { parsePdf } from './parse-pdf.js';
import { parseMarkdown, parsePlainText } from './parse-text.js';

/** A permanent failure: the same bytes will never parse, so the job must not retry. */
export class DocumentParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentParseError';
  }
}

const NAMES: Record<DocumentKind, string> = { pdf: 'PDF', docx: 'DOCX', txt: 'text', md: 'Markdown', csv: 'CSV' };

async function parseKind(kind: DocumentKind, bytes: Uint8Array): Promise<ParsedDocument> {
  if (kind === 'pdf') return parsePdf(bytes);
  if (kind === 'docx') return parseDocx(bytes);
  const text = decodeText(bytes);
  if (text === null) throw new DocumentParseError('The file is not valid UTF-8 text');
  const body = text.replace(/^\uFEFF/, '');
  if (kind === 'csv') return parseCsv(body);
  if (kind === 'md') return parseMarkdown(body);
  return parsePlainText(body);
}

export async function parseDocument(kind: DocumentKind, bytes: Uint8Array): Promise<ParsedDocument> {
  let parsed: ParsedDocument;
  try {
    parsed = await parseKind(kind, bytes);
  } catch (err) {
    if (err instanceof DocumentParseError) throw err;
    const reason = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : 'unknown error';
    throw new DocumentParseError(`The ${NAMES[kind]} file could not be read (it may be corrupt): ${reason}`);
  }
  if (!parsed.blocks.some((b) => b.type === 'text' && b.text.trim())) {
    throw new DocumentParseError(
      kind === 'pdf' ? 'The PDF has no extractable text (scanned PDFs need OCR first)' : `The ${NAMES[kind]} file contains no text`,
    );
  }
  return parsed;
}
