/** CSV → one block per row, as `header: value` lines, so each fact keeps its column's meaning. */
import { parse } from 'csv-parse/sync';
import type { Block, ParsedDocument } from './blocks.js';
import { limitExceeded, MAX_BLOCKS } from './limits.js';

/** Picks the delimiter that occurs most often (outside quotes) in the header line. */
function sniffDelimiter(text: string): string {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  let best = ',';
  let bestCount = 0;
  for (const d of [',', ';', '\t', '|']) {
    let count = 0;
    let quoted = false;
    for (const ch of firstLine) {
      if (ch === '"') quoted = !quoted;
      else if (ch === d && !quoted) count++;
    }
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

export function parseCsv(text: string): ParsedDocument {
  const rows = parse(text, {
    bom: true,
    delimiter: sniffDelimiter(text.replace(/^\uFEFF/, '')),
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
    trim: true,
    // The header plus MAX_BLOCKS rows, plus one to tell "exactly at the limit" from "over it".
    to: MAX_BLOCKS + 2,
  }) as string[][];
  if (rows.length > MAX_BLOCKS + 1) throw limitExceeded.blocks('rows');
  const [header, ...body] = rows;
  if (!header) return { blocks: [], pageCount: null };
  const names = header.map((h, i) => h || `column ${i + 1}`);
  const blocks: Block[] = [];
  for (const row of body) {
    const lines = row.map((v, i) => (v ? `${names[i] ?? `column ${i + 1}`}: ${v}` : '')).filter(Boolean);
    if (lines.length) blocks.push({ type: 'text', text: lines.join('\n') });
  }
  return { blocks, pageCount: null };
}
