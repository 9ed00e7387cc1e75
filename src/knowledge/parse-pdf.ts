/**
 * PDF → blocks, page by page, via unpdf (pdf.js). Text items are grouped into lines by their baseline, lines
 * into paragraphs by vertical gaps, and lines set in a clearly larger font than the body become headings
 * (the largest size is level 1). Scanned PDFs have no text layer and come out empty (no OCR here).
 */
import { getDocumentProxy } from 'unpdf';
import type { Block, ParsedDocument } from './blocks.js';
import { DEFAULT_INGEST_LIMITS, limitExceeded, type IngestLimits } from './limits.js';

interface Item {
  str: string;
  x: number;
  y: number;
  width: number;
  fontSize: number;
}

interface Line {
  text: string;
  y: number;
  size: number;
}

function linesOf(items: Item[]): Line[] {
  const lines: { items: Item[]; y: number }[] = [];
  for (const item of items) {
    if (!item.str.trim()) continue;
    const last = lines[lines.length - 1];
    if (last && Math.abs(last.y - item.y) <= Math.max(2, item.fontSize * 0.3)) last.items.push(item);
    else lines.push({ items: [item], y: item.y });
  }
  return lines.map(({ items: its, y }) => {
    its.sort((a, b) => a.x - b.x);
    let text = '';
    let end = -Infinity;
    for (const it of its) {
      const gap = it.x - end;
      text += text && gap > it.fontSize * 0.15 && !text.endsWith(' ') && !it.str.startsWith(' ') ? ` ${it.str}` : it.str;
      end = it.x + it.width;
    }
    return { text: text.replace(/\s+/g, ' ').trim(), y, size: Math.max(...its.map((i) => i.fontSize)) };
  });
}

/** The font size carrying the most characters: the body text. */
function bodySize(pages: Line[][]): number {
  const weight = new Map<number, number>();
  for (const line of pages.flat()) {
    const s = Math.round(line.size * 2) / 2;
    weight.set(s, (weight.get(s) ?? 0) + line.text.length);
  }
  let best = 0;
  let bestWeight = -1;
  for (const [s, w] of weight) if (w > bestWeight) [best, bestWeight] = [s, w];
  return best;
}

function joinLines(a: string, b: string): string {
  // Re-join words hyphenated across lines ("infor-" + "mation").
  return /\p{L}-$/u.test(a) && /^\p{Ll}/u.test(b) ? a.slice(0, -1) + b : `${a} ${b}`;
}

type Pdf = Awaited<ReturnType<typeof getDocumentProxy>>;

/** Text items page by page (as unpdf's extractTextItems), stopping as soon as the text passes `maxChars`. */
async function pageItems(pdf: Pdf, maxChars: number): Promise<Item[][]> {
  const pages: Item[][] = [];
  let chars = 0;
  for (let n = 1; n <= pdf.numPages; n++) {
    const page = await pdf.getPage(n);
    const content = await page.getTextContent();
    const items: Item[] = [];
    for (const item of content.items) {
      if (!('str' in item) || item.str == null) continue;
      chars += item.str.length;
      const [, , c, d, e, f] = item.transform as number[];
      items.push({ str: item.str, x: e!, y: f!, width: item.width, fontSize: Math.hypot(c!, d!) });
    }
    if (chars > maxChars) throw limitExceeded.chars(maxChars);
    page.cleanup();
    pages.push(items);
  }
  return pages;
}

export async function parsePdf(bytes: Uint8Array, limits: IngestLimits = DEFAULT_INGEST_LIMITS): Promise<ParsedDocument> {
  // pdf.js takes ownership of (detaches) the buffer it is given, so it gets a copy.
  const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
  try {
    const totalPages = pdf.numPages;
    if (totalPages > limits.maxPages) throw limitExceeded.pages(totalPages, limits.maxPages);
    const pages = (await pageItems(pdf, limits.maxChars)).map(linesOf);
    const body = bodySize(pages);
    const headingSizes = [...new Set(pages.flat().filter((l) => l.size >= body * 1.15 && l.text.length <= 120).map((l) => l.size))].sort((a, b) => b - a);
    const blocks: Block[] = [];
    pages.forEach((lines, index) => {
      const page = index + 1;
      let para = '';
      let prev: Line | null = null;
      const flush = () => {
        if (para) blocks.push({ type: 'text', text: para, page });
        para = '';
      };
      for (const line of lines) {
        const level = headingSizes.indexOf(line.size);
        if (level >= 0 && line.text.length <= 120) {
          flush();
          blocks.push({ type: 'heading', level: Math.min(6, level + 1), text: line.text, page });
        } else {
          const gap = prev ? prev.y - line.y : 0;
          if (prev && (gap > Math.max(prev.size, line.size) * 1.6 || gap < 0)) flush();
          para = para ? joinLines(para, line.text) : line.text;
        }
        prev = line;
      }
      flush();
    });
    return { blocks, pageCount: totalPages };
  } finally {
    await pdf.destroy();
  }
}
