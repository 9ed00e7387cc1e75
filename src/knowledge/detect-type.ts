/**
 * Decides what an upload really is from its bytes: PDF and DOCX by their signatures (file-type), text formats
 * by being valid UTF-8 without binary control characters; the file name only chooses between txt, md and csv.
 * Anything else is 415.
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
  const dot = filename.lastIndexOf('.');
  return dot > 0 ? filename.slice(dot + 1).toLowerCase() : '';
}

/** Valid UTF-8 with no NUL and (almost) no C0 control characters other than tab, newline, carriage return, form feed. */
export function decodeText(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return null;
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) control++;
  }
  return control > text.length / 1000 + 1 ? null : text;
}

export async function detectDocumentKind(bytes: Uint8Array, filename: string): Promise<{ kind: DocumentKind; contentType: string }> {
  if (bytes.length === 0) throw new ParleyError('PARLEY_ERR_VALIDATION', 'The file is empty');
  const detected = await fileTypeFromBuffer(bytes);
  if (detected?.ext === 'pdf') return { kind: 'pdf', contentType: CONTENT_TYPES.pdf };
  if (detected?.ext === 'docx') return { kind: 'docx', contentType: CONTENT_TYPES.docx };
  if (detected) throw unsupported(`Unsupported file type ${detected.mime}; upload PDF, DOCX, TXT, MD or CSV`);
  const ext = extensionOf(filename);
  if (ext === 'pdf' || ext === 'docx') throw unsupported(`The file is named .${ext} but its content is not a ${ext.toUpperCase()} file`);
  const kind = TEXT_EXTENSIONS[ext];
  if (!kind) throw unsupported(`Unsupported file extension .${ext}; upload PDF, DOCX, TXT, MD or CSV`);
  if (decodeText(bytes) === null) throw unsupported('The file is neither PDF nor DOCX and is not UTF-8 text');
  return { kind, contentType: CONTENT_TYPES[kind] };
}
