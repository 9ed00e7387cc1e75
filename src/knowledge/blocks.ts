/** What every parser produces: the document as a flat sequence of headings and text blocks, in reading order. */
export type Block =
  | { type: 'heading'; level: number; text: string; page?: number }
  | { type: 'text'; text: string; page?: number };

export interface ParsedDocument {
  blocks: Block[];
  /** Pages for PDFs; null for formats without pages. */
  pageCount: number | null;
}

/** Collapses runs of spaces/tabs, trims each line and drops empty ones; keeps single newlines (CSV rows). */
export function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .filter(Boolean)
    .join('\n');
}
