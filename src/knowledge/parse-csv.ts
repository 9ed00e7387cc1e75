/** CSV → one block per row, as `header: value` lines, so each fact keeps its column's meaning. */
import { parse } from 'csv-parse/sync';
import type { Block, ParsedDocument } from './blocks.js';
import { limitExceeded, MAX_BLOCKS, MAX_CSV_COLUMNS } from './limits.js';

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

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Refuses a row of more than MAX_CSV_COLUMNS fields before csv-parse builds it (it builds a whole record before any
 * callback sees it, and a per-field cast callback made parsing 40× slower). Counts delimiters outside quotes the way
 * the parser reads them: a quote opens a quoted field only at its start (after trimmed blanks), "" inside one is a
 * quote, and a line break outside quotes ends the row.
 */
function checkColumnCount(text: string, delimiter: string): void {
  const delim = delimiter.charCodeAt(0);
  let fields = 1;
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === QUOTE) {
        if (text.charCodeAt(i + 1) === QUOTE) i++;
        else quoted = false;
      }
    } else if (c === delim) {
      if (++fields > MAX_CSV_COLUMNS) throw limitExceeded.columns();
      fieldStart = true;
    } else if (c === LF || c === CR) {
      fields = 1;
      fieldStart = true;
    } else if (c === QUOTE && fieldStart) {
      quoted = true;
      fieldStart = false;
    } else if (c !== 32 && c !== 9) {
      fieldStart = false;
    }
  }
}

export function parseCsv(text: string): ParsedDocument {
  const delimiter = sniffDelimiter(text.replace(/^\uFEFF/, ''));
  checkColumnCount(text, delimiter);
  const rows = parse(text, {
    bom: true,
    delimiter,
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
