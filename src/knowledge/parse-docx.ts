/**
 * DOCX → blocks via mammoth's HTML, keeping h1–h6 as headings and table rows as "cell | cell" lines. The archive
 * is checked first (zip-guard.ts: declared and actual decompressed sizes); images are never read.
 */
import mammoth from 'mammoth';
import { tidy, type Block, type ParsedDocument } from './blocks.js';
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from './limits.js';
import { guardZip } from './zip-guard.js';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function htmlText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(code) ? String.fromCodePoint(code) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

export function blocksFromHtml(html: string): Block[] {
  // Table rows first, so a cell's paragraphs become one line of the row.
  const flat = html.replace(/<tr[^>]*>([\s\S]*?)<\/tr>/gi, (_m, row: string) => {
    const cells = [...row.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/gi)].map((c) => tidy(htmlText(c[1]!)).replace(/\n/g, ' '));
    return `<p>${cells.filter(Boolean).join(' | ')}</p>`;
  });
  const blocks: Block[] = [];
  for (const m of flat.matchAll(/<(h[1-6]|p|li)\b[^>]*>([\s\S]*?)<\/\1>/gi)) {
    const text = tidy(htmlText(m[2]!));
    if (!text) continue;
    const tag = m[1]!.toLowerCase();
    blocks.push(tag.startsWith('h') ? { type: 'heading', level: Number(tag[1]), text } : { type: 'text', text });
  }
  return blocks;
}

// Images become empty <img> tags without being decompressed (the text is all that is kept).
const noImages = mammoth.images.imgElement(async () => ({ src: '' }));

export async function parseDocx(bytes: Uint8Array, limits: IngestLimits = DEFAULT_INGEST_LIMITS): Promise<ParsedDocument> {
  guardZip(bytes, limits);
  const { value } = await mammoth.convertToHtml({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, { convertImage: noImages });
  return { blocks: blocksFromHtml(value), pageCount: null };
}
