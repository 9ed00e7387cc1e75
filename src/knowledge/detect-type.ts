/**
 * Decides what an upload really is from its bytes: PDF and DOCX by their signatures (file-type), text formats
 * by being valid UTF-8 (or UTF-16 with a byte-order mark) without binary control characters — judged on the
 * first MiB here, on all of it during ingestion; the file name only chooses between txt, md and csv. Anything
 * else is 415.
 */
import { fileTypeFromBuffer } from 'file-type';
import { ParleyError } from '../errors.js';

export type DocumentKind = 'pdf' | 'docx' | 'txt' | 'md' | 'csv';

export const CONTENT_TYPES: Record<DocumentKind, string> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
};

const TEXT_EXTENSIONS: Record<string, DocumentKind> = { txt: 'txt', text: 'txt', '': 'txt', md: 'md', markdown: 'md', csv: 'csv' };

const unsupported = (message: string) => new ParleyError('PARLEY_ERR_UNSUPPORTED_MEDIA_TYPE', message);

function extensionOf(filename: string): string {
  // "faq.md " (a trailing space some clients keep) is a .md file.
  const name = filename.trim();
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The text encoding a byte-order mark announces: UTF-16 little- or big-endian; UTF-8 otherwise (with or without its BOM). */
export function textEncodingOf(bytes: Uint8Array): 'utf-8' | 'utf-16le' | 'utf-16be' {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return 'utf-8';
}

/** No NUL and (almost) no C0 control characters other than tab, newline, carriage return, form feed. */
function looksLikeText(text: string): boolean {
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return false;
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) control++;
  }
  return control <= text.length / 1000 + 1;
}

/**
 * `bytes` decoded as UTF-8 (or UTF-16 announced by its BOM, which is dropped), or null when they are not valid
 * in that encoding or do not look like text. `stream`: the bytes are a head cut anywhere, so a character cut at
 * the end is not an error.
 */
export function decodeText(bytes: Uint8Array, stream = false): string | null {
  let text: string;
  try {
    // fatal: an odd byte count or a lone surrogate in UTF-16 fails like invalid UTF-8 does.
    text = new TextDecoder(textEncodingOf(bytes), { fatal: true }).decode(bytes, { stream });
  } catch {
    return null;
  }
  return looksLikeText(text) ? text : null;
}

/**
 * Why bytes are not text, for the client: bytes that read as text in a one-byte encoding (no NUL, hardly a
 * control character: Windows-1251 or Latin-1, as Excel saves a CSV) are told how to fix the file, since "not UTF-8"
 * alone does not say that re-saving it is all it takes.
 */
export function notTextMessage(bytes: Uint8Array, base: string): string {
  if (textEncodingOf(bytes) !== 'utf-8' || !looksLikeText(new TextDecoder('latin1').decode(bytes))) return base;
  return `${base}; it looks like text in an older encoding (Windows-1251, Latin-1: Excel saves CSV files so), so save it as UTF-8 and upload it again`;
}

/** How much of a text upload is judged at upload time; ingestion decodes (and checks) the whole text. */
export const TEXT_SNIFF_BYTES = 1024 * 1024;

export async function detectDocumentKind(bytes: Uint8Array, filename: string): Promise<{ kind: DocumentKind; contentType: string }> {
  if (bytes.length === 0) throw new ParleyError('PARLEY_ERR_VALIDATION', 'The file is empty');
  // A UTF-16 BOM (FF FE / FE FF) looks like an MPEG audio frame to file-type: text with a BOM is judged as text.
  const detected = textEncodingOf(bytes) === 'utf-8' ? await fileTypeFromBuffer(bytes) : undefined;
  if (detected?.ext === 'pdf') return { kind: 'pdf', contentType: CONTENT_TYPES.pdf };
  if (detected?.ext === 'docx') return { kind: 'docx', contentType: CONTENT_TYPES.docx };
  const ext = extensionOf(filename);
  const kind = TEXT_EXTENSIONS[ext];
  // Only the head: validating all of a 20 MB text here would hold the event loop; ingestion decodes it all.
  const isText = decodeText(bytes.subarray(0, TEXT_SNIFF_BYTES), bytes.length > TEXT_SNIFF_BYTES) !== null;
  // A signature of a few letters is also how text may begin ("BM" is a bitmap, "BMW service…" a FAQ; "MAC", "ID3",
  // "<?xml"): a named text file whose bytes are text is text, whatever file-type guessed from its first bytes.
  if (kind && isText) return { kind, contentType: CONTENT_TYPES[kind] };
  if (detected) throw unsupported(`Unsupported file type ${detected.mime}; upload PDF, DOCX, TXT, MD or CSV`);
  if (ext === 'pdf' || ext === 'docx') throw unsupported(`The file is named .${ext} but its content is not a ${ext.toUpperCase()} file`);
  if (!kind) throw unsupported(`Unsupported file extension .${ext}; upload PDF, DOCX, TXT, MD or CSV`);
  throw unsupported(notTextMessage(bytes.subarray(0, TEXT_SNIFF_BYTES), 'The file is neither PDF nor DOCX and is not UTF-8 (or UTF-16 with a byte-order mark) text'));
}
