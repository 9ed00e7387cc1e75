/**
 * Splits a parsed document into chunks along its structure: a heading always starts a new chunk (the heading
 * path becomes the chunk's `section`), paragraphs are packed up to `size` characters, a paragraph longer than
 * that is split into sentences, and a sentence longer than that into word runs. Consecutive chunks of one
 * section share up to `overlap` characters (whole trailing sentences where possible) so an answer spanning a
 * boundary is still found.
 */
import type { Block } from './blocks.js';
import { limitExceeded } from './limits.js';
import { splitSentences } from './sentences.js';

export interface ChunkOptions {
  /** Target maximum characters per chunk. */
  size: number;
  /** Characters carried over from the previous chunk of the same section. */
  overlap: number;
  /** More chunks than this throws a DocumentParseError (as soon as the limit is passed, not at the end). */
  maxChunks?: number;
}

export interface TextChunk {
  ordinal: number;
  text: string;
  page: number | null;
  section: string | null;
}

function splitLong(text: string, size: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    let w = word;
    // A single "word" longer than the size (a URL, a table row without spaces) is cut hard.
    while (w.length > size) {
      if (current) out.push(current);
      current = '';
      out.push(w.slice(0, size));
      w = w.slice(size);
    }
    if (!w) continue;
    if (current && current.length + 1 + w.length > size) {
      out.push(current);
      current = '';
    }
    current = current ? `${current} ${w}` : w;
  }
  if (current) out.push(current);
  return out;
}

/** Units no longer than `size`: the paragraph itself, else its sentences, else word runs. */
function units(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const out: string[] = [];
  for (const s of splitSentences(text)) {
    if (s.length <= size) out.push(s);
    else out.push(...splitLong(s, size));
  }
  return out;
}

/** The tail of `text` to repeat at the start of the next chunk: whole sentences if they fit, else whole words. */
function tailOf(text: string, max: number): string {
  if (max <= 0) return '';
  const sentences = splitSentences(text);
  let tail = '';
  for (let i = sentences.length - 1; i >= 0; i--) {
    const candidate = tail ? `${sentences[i]} ${tail}` : sentences[i]!;
    if (candidate.length > max) break;
    tail = candidate;
  }
  if (tail) return tail;
  const cut = text.slice(-max);
  const space = cut.indexOf(' ');
  return space >= 0 ? cut.slice(space + 1) : '';
}

export function chunkBlocks(blocks: Block[], options: ChunkOptions): TextChunk[] {
  const { size, overlap } = options;
  const maxChunks = options.maxChunks ?? Number.POSITIVE_INFINITY;
  const chunks: TextChunk[] = [];
  const headings: { level: number; text: string }[] = [];
  let parts: string[] = [];
  let length = 0;
  let hasNew = false;
  let page: number | null = null;

  const section = () => (headings.length ? headings.map((h) => h.text).join(' > ') : null);
  const flush = (carry: boolean) => {
    if (hasNew) {
      const text = parts.join('\n');
      if (chunks.length >= maxChunks) throw limitExceeded.chunks(maxChunks);
      chunks.push({ ordinal: chunks.length, text, page, section: section() });
      const tail = carry ? tailOf(text, overlap) : '';
      parts = tail ? [tail] : [];
      length = tail.length;
    } else if (!carry) {
      parts = [];
      length = 0;
    }
    hasNew = false;
    page = null;
  };

  for (const block of blocks) {
    if (block.type === 'heading') {
      flush(false);
      while (headings.length && headings[headings.length - 1]!.level >= block.level) headings.pop();
      headings.push({ level: block.level, text: block.text });
      continue;
    }
    for (const unit of units(block.text, size)) {
      if (hasNew && length + 1 + unit.length > size) flush(true);
      if (!hasNew && length + 1 + unit.length > size) {
        // The carried-over tail and this unit do not fit together: keep as much tail as fits.
        const room = size - unit.length - 1;
        const tail = room > 0 ? tailOf(parts.join('\n'), room) : '';
        parts = tail ? [tail] : [];
        length = tail.length;
      }
      if (!hasNew) page = block.page ?? null;
      parts.push(unit);
      length += (length ? 1 : 0) + unit.length;
      hasNew = true;
    }
  }
  flush(false);
  return chunks;
}

/** What is embedded for a chunk: the heading path with the text (questions often name the section: "prices"). */
export const embeddingText = (c: { section: string | null; text: string }): string => (c.section ? `${c.section}\n${c.text}` : c.text);
