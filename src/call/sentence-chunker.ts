/**
 * Splits streamed LLM text into speakable phrases (English and Russian). The first phrase is released at the
 * first clause boundary once it is long enough, so TTS starts while the LLM is still writing; later phrases
 * are whole sentences (or long clauses). A "." only ends a sentence when followed by whitespace and not after
 * an abbreviation or an initial, so "Dr. Lee", "3.5", "т.е." and "J. Smith" stay whole.
 */

const ABBREVIATIONS = new Set([
  // English
  'dr', 'mr', 'mrs', 'ms', 'prof', 'st', 'sr', 'jr', 'vs', 'etc', 'e.g', 'i.e', 'no', 'approx', 'dept', 'apt', 'ave',
  'mt', 'ft', 'inc', 'ltd', 'co', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'a.m', 'p.m',
  // Russian
  'т.е', 'т.д', 'т.п', 'т.к', 'др', 'пр', 'г', 'гг', 'ул', 'д', 'кв', 'им', 'руб', 'коп', 'тел', 'стр', 'см', 'мин',
  'макс', 'проф', 'акад', 'пер', 'пл', 'просп', 'обл', 'р-н', 'тыс', 'млн', 'млрд', 'доб',
]);

const SENTENCE_END = /[.!?…]/;
const CLAUSE_END = /[,;:—–]/;

/** Exactly what /\s/ matches, without a RegExp call per character (the scan runs on every streamed token). */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

export interface ChunkerOptions {
  /** The first phrase is released at a clause boundary once it has this many characters. */
  firstMinChars?: number;
  /** Later phrases: sentences shorter than this are joined with the next one. */
  minChars?: number;
  /** A clause boundary releases a later phrase once the buffer is this long. */
  clauseMinChars?: number;
  /** No boundary in sight: cut at the last space past this length. */
  maxChars?: number;
  /** false: cut only at sentence ends (fixed text such as a greeting). */
  splitClauses?: boolean;
}

export class SentenceChunker {
  private buffer = '';
  /**
   * Boundaries before this index have been judged and none cuts: each judgement looks only at the characters up to
   * the whitespace after the boundary (known once judged) and at the boundary's distance from the buffer start
   * (fixed until a cut), so text added later cannot change it. Only new text is scanned — one pass per token, not
   * the whole buffer again, which on long answers was most of the turn's allocations.
   */
  private scanned = 0;
  private emitted = 0;
  private readonly firstMinChars: number;
  private readonly minChars: number;
  private readonly clauseMinChars: number;
  private readonly maxChars: number;
  private readonly splitClauses: boolean;

  constructor(options: ChunkerOptions = {}) {
    this.firstMinChars = options.firstMinChars ?? 10;
    this.minChars = options.minChars ?? 20;
    this.clauseMinChars = options.clauseMinChars ?? 80;
    this.maxChars = options.maxChars ?? 220;
    this.splitClauses = options.splitClauses ?? true;
  }

  /** Adds streamed text; returns the phrases now complete. */
  push(text: string): string[] {
    this.buffer += text;
    const out: string[] = [];
    for (;;) {
      const cut = this.findCut();
      if (cut <= 0) break;
      const phrase = this.buffer.slice(0, cut).trim();
      this.buffer = this.buffer.slice(cut).replace(/^\s+/, '');
      this.scanned = 0;
      if (phrase) {
        out.push(phrase + ' ');
        this.emitted++;
      }
    }
    return out;
  }

  /** The rest of the text, at the end of the LLM response. */
  flush(): string | null {
    const phrase = this.buffer.trim();
    this.buffer = '';
    this.scanned = 0;
    if (!phrase) return null;
    this.emitted++;
    return phrase + ' ';
  }

  /** Index just past the boundary to cut at, or -1 to wait for more text. */
  private findCut(): number {
    const b = this.buffer;
    const first = this.emitted === 0;
    let clauseCut = -1;
    // A boundary needs the following whitespace to be known, hence `i < b.length - 1`.
    for (let i = this.scanned; i < b.length - 1; i++) {
      if (!isSpace(b.charCodeAt(i + 1))) continue;
      const ch = b[i] as string;
      const len = i + 1;
      if (SENTENCE_END.test(ch)) {
        if (ch === '.' && !this.isSentencePeriod(i)) continue;
        if (len >= (first ? this.firstMinChars : this.minChars)) return this.skipClosers(i + 1);
      } else if (this.splitClauses && (CLAUSE_END.test(ch) || (ch === '-' && /\s/.test(b[i - 1] ?? '')))) {
        if (ch === ':' && /\d/.test(b[i - 1] ?? '') && /\d/.test(b[i + 2] ?? '')) continue;
        if (len >= (first ? this.firstMinChars : this.clauseMinChars) && clauseCut < 0) clauseCut = i + 1;
      }
    }
    if (clauseCut > 0) return clauseCut;
    this.scanned = Math.max(0, b.length - 1);
    if (b.length > this.maxChars) {
      const space = b.lastIndexOf(' ', this.maxChars);
      return space > 0 ? space + 1 : this.maxChars;
    }
    return -1;
  }

  /** Include closing quotes/brackets that follow the punctuation. */
  private skipClosers(at: number): number {
    let i = at;
    while (i < this.buffer.length && /["'»”)\]]/.test(this.buffer[i] as string)) i++;
    return i;
  }

  private isSentencePeriod(i: number): boolean {
    const b = this.buffer;
    // The word before the period (may itself contain dots, e.g. "e.g", "т.е").
    let start = i;
    while (start > 0 && !/\s/.test(b[start - 1] as string) && !/[("«]/.test(b[start - 1] as string)) start--;
    const word = b.slice(start, i);
    if (!word) return true;
    if (ABBREVIATIONS.has(word.toLowerCase())) return false;
    // Initials: a single capital letter ("J. Smith"), Latin or Cyrillic.
    if (/^[A-ZА-ЯЁ]$/.test(word)) return false;
    // Ellipsis "..." counts as a sentence end; "..." inside a word does not matter here.
    return true;
  }
}
