/**
 * A knowledge answer as a person would say it on the phone: the one or two sentences of the best chunk that
 * answer the question — never the whole chunk, never a file name, never a table read aloud. A table row
 * ("Service | Price" or a CSV "name: value" line) becomes a short sentence about the row that matches.
 */

const MAX_CHARS = 220;

const norm = (s: string): string => s.toLowerCase().replace(/ё/g, 'е');

const STOP = new Set([
  'the', 'and', 'for', 'you', 'your', 'are', 'what', 'how', 'much', 'does', 'can', 'with', 'have', 'there', 'that', 'this', 'about',
  'when', 'where', 'will', 'would', 'could', 'tell', 'please', 'some', 'any', 'our', 'from', 'happens',
  'как', 'что', 'это', 'для', 'или', 'сколько', 'когда', 'где', 'есть', 'вас', 'нас', 'мне', 'если', 'будет', 'можно', 'ли',
]);

/**
 * Whether a question's stem and a sentence's stem are one word: equal, or one a prefix of the other of at least 4
 * letters — a stem is a word's first 5 letters, so "open" is "open" and "opening" "openi", "park" and "parki".
 */
function sameStem(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 4 && long.startsWith(short);
}

const shares = (words: Set<string>, term: string): boolean => {
  if (words.has(term)) return true;
  for (const w of words) if (sameStem(w, term)) return true;
  return false;
};

function stems(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of norm(text).split(/[^\p{L}\p{N}]+/u)) if (w.length > 2 && !STOP.has(w)) out.add(w.slice(0, 5));
  return out;
}

/** Lines of a table (markdown pipes, or several "key: value" pairs) turned into plain clauses. */
function untable(line: string): string {
  const cells = line.split('|').map((c) => c.trim()).filter(Boolean);
  if (cells.length >= 2) return cells.filter((c) => !/^:?-{2,}:?$/.test(c)).join(', ');
  return line;
}

/**
 * "Price: 123 EUR" — a field of a record (a CSV row is one per line, parse-csv.ts). The value may hold a time
 * ("Open: 9:00 - 18:00"): a colon between digits is not a second field.
 */
const FIELD = /^([^:.!?]{1,40}): (?:[^:]|(?<=\d):(?=\d)){1,120}$/u;

const cellsOf = (line: string): string[] | null => {
  if (!line.includes('|')) return null;
  const cells = line.replace(/^\s*\|/, '').replace(/\|\s*$/, '').split('|').map((c) => c.trim());
  return cells.length >= 2 ? cells : null;
};
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)+\|?\s*$/;

/**
 * A Markdown table (a row of cells over a |---|---| rule) said the way CSV rows are: each later row as
 * "header: value" lines, one record per row. Read as lines, "What are your hours on Saturday?" was answered by the
 * header row "Day, Hours" and the row after it (Monday to Friday's hours).
 */
function tableFields(lines: string[]): string[] {
  const out: string[] = [];
  let header: string[] | null = null;
  for (let i = 0; i < lines.length; i++) {
    const cells = cellsOf(lines[i]!);
    if (cells && TABLE_RULE.test(lines[i + 1] ?? '')) {
      header = cells;
      i++;
    } else if (cells && header) {
      const names = header;
      out.push(...cells.map((c, k) => (c && names[k] ? `${names[k]}: ${c}` : c)).filter(Boolean));
    } else {
      header = null;
      out.push(lines[i]!);
    }
  }
  return out;
}

/**
 * A sentence to say, or a record (a table row: said whole, never with its neighbour). A record is matched on its
 * values only: its field names ("Hours", "Price") are in every row, so "What are your hours on Saturday?" must not
 * pick the first row for its "Hours" — no row for Saturday is no answer, not Monday's hours.
 */
interface Unit {
  text: string;
  record: boolean;
  values?: string;
}

/**
 * Runs of two or more field lines are records, each said as one clause ("Service Perm, Price 123 EUR, Duration 45
 * min"): line by line, "how long does a perm take" found "Service: Perm" and read the price after it. A field
 * name seen again starts the next record — a CSV's rows follow one another line by line, and as one run "How much
 * is teeth cleaning?" was answered with every row of the price list.
 */
function mergeRecords(lines: string[]): Unit[] {
  const out: Unit[] = [];
  const said = (fields: string[]): Unit => ({
    text: `${fields.map((l) => l.replace(/:\s+/, ' ').replace(/[.;,\s]+$/, '')).join(', ')}.`,
    record: true,
    values: fields.map((l) => l.slice(l.indexOf(':') + 1)).join(' '),
  });
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j < lines.length && FIELD.test(lines[j]!)) j++;
    if (j - i < 2) {
      out.push({ text: lines[i]!, record: false });
      continue;
    }
    let record: string[] = [];
    const names = new Set<string>();
    for (const line of lines.slice(i, j)) {
      const name = FIELD.exec(line)![1]!.trim().toLowerCase();
      if (names.has(name)) {
        out.push(said(record));
        record = [];
        names.clear();
      }
      names.add(name);
      record.push(line);
    }
    out.push(said(record));
    i = j - 1;
  }
  return out;
}

/** Sentences (and table rows as records) of a chunk, cleaned of markup, file names and headings' hashes. */
function spokenUnits(chunk: string): Unit[] {
  const lines = tableFields(chunk.split(/\r?\n/).map((l) => l.trim()))
    .filter((l) => l && !/^[|:\-\s]+$/.test(l))
    .map((l) => untable(l))
    .map((l) =>
      l
        .replace(/^#+\s*/, '')
        .replace(/\[(.*?)\]\(.*?\)/g, '$1')
        .replace(/https?:\/\/\S+/g, '')
        .replace(/\b[\w.-]+\.(pdf|docx?|txt|md|csv|xlsx?)\b/gi, '')
        .replace(/[*_`>#]+/g, ' ')
        .replace(/^[-•·]\s*/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter(Boolean);
  const out: Unit[] = [];
  for (const unit of mergeRecords(lines)) {
    if (unit.record) out.push(unit);
    else for (const s of unit.text.split(/(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9"«])/)) if (s.trim()) out.push({ text: s.trim(), record: false });
  }
  return out;
}

/** Sentences (and table rows as sentences) of a chunk, cleaned of markup, file names and headings' hashes. */
export function spokenSentences(chunk: string): string[] {
  return spokenUnits(chunk).map((u) => u.text);
}

/**
 * How many passages of a company's text each word stem occurs in. A passage is a section of a chunk (its text
 * under one heading line, or the whole chunk when it has none): a word that occurs under most headings ("hours",
 * "book", "appointment") says little about which part answers a question. Linear in the text; cheap enough to
 * build from a chunk on the spot, or once per bot's corpus and cached.
 */
export interface TermStats {
  passages: number;
  df: Map<string, number>;
}

/** A short line without closing punctuation, followed by more text: a heading ("Opening hours", "Prices"). */
const isHeading = (line: string): boolean => line.length <= 60 && line.split(' ').length <= 6 && !/[.!?…,;]$/.test(line);

export function termStats(chunks: string[]): TermStats {
  const df = new Map<string, number>();
  let passages = 0;
  const close = (terms: Set<string>): void => {
    if (terms.size === 0) return;
    passages++;
    for (const t of terms) df.set(t, (df.get(t) ?? 0) + 1);
  };
  for (const chunk of chunks) {
    let current = new Set<string>();
    let body = false;
    for (const line of spokenSentences(chunk)) {
      if (isHeading(line) && body) {
        close(current);
        current = new Set();
        body = false;
      }
      for (const t of stems(line)) current.add(t);
      if (!isHeading(line)) body = true;
    }
    close(current);
  }
  return { passages, df };
}

/** A word in more than half of two or more passages is common: a match on it alone answers nothing. */
const isCommon = (stats: TermStats, term: string): boolean => stats.passages >= 2 && (stats.df.get(term) ?? 0) * 2 > stats.passages;

/** An IDF weight (the BM25 form, never negative): rare words count more than common ones. */
function weight(stats: TermStats, term: string): number {
  const n = stats.passages;
  const df = Math.min(stats.df.get(term) ?? 0, n);
  return Math.log(1 + (n - df + 0.5) / (df + 0.5));
}

/**
 * At most MAX_CHARS of `text`, cut between words: its start, or — when the question's words are not in that — from a
 * few words before the first that is. A long run without sentence punctuation (a flattened table, a PDF's list, a
 * text of one line) is one "sentence": its first 220 characters were said, and the answer further on was not.
 */
function sayable(text: string, terms: string[]): string {
  const words = text.split(' ');
  const first = words.findIndex((w) => terms.some((t) => shares(stems(w), t)));
  // From the start while the first question word is well inside what is said; else from just before it (a word
  // that begins with a capital, as a sentence or a name would, among the three before it; else those three).
  let start = 0;
  if (first >= 0 && words.slice(0, first + 1).join(' ').length > MAX_CHARS - 40) {
    start = Math.max(0, first - 3);
    for (let i = first; i >= Math.max(0, first - 3); i--) {
      if (/^\p{Lu}/u.test(words[i]!)) {
        start = i;
        break;
      }
    }
  }
  const rest = words.slice(start).join(' ');
  if (rest.length <= MAX_CHARS) return rest;
  const cut = rest.lastIndexOf(' ', MAX_CHARS);
  return rest.slice(0, cut > 0 ? cut : MAX_CHARS);
}

/**
 * The answer to `question` from `chunk` (under the heading path `section`, if any): its best sentence (plus the next when the first is only a heading), the
 * sentences weighed by how rare the shared words are across `corpus` (default: the chunk's own passages). None when
 * the chunk shares no word with the question, or only words common across the corpus ("do you fix your hours" is
 * not answered by the cancellation sentence because it says "24 hours").
 */
export function spokenAnswer(chunk: string, question: string, corpus?: TermStats, section?: string | null): string | null {
  const units = spokenUnits(chunk);
  const sentences = units.map((u) => u.text);
  if (!sentences.length) return null;
  const stats = corpus ?? termStats([chunk]);
  const terms = stems(question);
  // The chunk's heading path (chunk.ts keeps it apart from the text): "Opening hours" above "We are open Monday to
  // Friday…" is what the question names, so its words count for every sentence under it — at half weight, so that
  // under "Address and parking" the sentence that itself says "parking" answers where to park.
  const heading = section ? stems(section) : new Set<string>();
  let best = -1;
  let bestScore = -Infinity;
  /** Per sentence, the rare question words it has as they are (not by a shared prefix: "cost" is not "costs"). */
  const exactRareHitsOf: number[] = [];
  sentences.forEach((s, i) => {
    const words = stems(units[i]!.values ?? s);
    let hits = 0;
    let rare = 0;
    let exactRare = 0;
    let score = 0;
    for (const t of terms) {
      const own = shares(words, t);
      if (!own && !shares(heading, t)) continue;
      hits++;
      score += own ? weight(stats, t) : weight(stats, t) / 2;
      if (!isCommon(stats, t)) {
        rare++;
        if (words.has(t) || heading.has(t)) exactRare++;
      }
    }
    exactRareHitsOf[i] = exactRare;
    // A heading or a label line says little; prefer sentences with a verb-ish length.
    if (s.length < 25 && !/\d/.test(s)) score -= 0.5 * (hits ? score / hits : 1);
    // Only a sentence sharing a word that is not common across the corpus can answer (with no question words at
    // all, the first sentence is the chunk's answer).
    if ((rare > 0 || terms.size === 0) && score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  if (best < 0) return null;
  let out = sentences[best]!;
  // A record (a table row) is said whole and alone: the next row is another service's, not more of this answer.
  const next = units[best]!.record || units[best + 1]?.record ? undefined : sentences[best + 1];
  if (out.length < 40 && next && !/[.!?]$/.test(out)) out = `${out.replace(/[:\s]+$/, '')}: ${next}`;
  else if (out.length < 40 && next) out += ` ${next}`;
  // The next sentence answers the question too ("…free up to 24 hours before. Later cancellations cost $20."): say both.
  // Only on a word of the question as it is: "…cleaning costs 80 dollars" is not followed by what whitening costs.
  else if (next && (exactRareHitsOf[best + 1] ?? 0) > 0 && out.length + next.length < MAX_CHARS) out += ` ${next}`;
  if (out.length > MAX_CHARS) out = sayable(out, [...terms].filter((t) => !isCommon(stats, t))).replace(/[,;:\s]+$/, '');
  out = out.replace(/(?<!\s)\s+([,.!?])/g, '$1').replace(/^[,;:\s]+/, '');
  if (!/[.!?…]$/.test(out)) out += '.';
  return out.charAt(0).toUpperCase() + out.slice(1);
}
