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

/** "Price: 123 EUR" — a field of a record (a CSV row is one per line, parse-csv.ts). */
const FIELD = /^[^:.!?]{1,40}: [^:]{1,120}$/u;

/**
 * Runs of two or more field lines are one record, said as one clause ("Service Perm, Price 123 EUR, Duration 45
 * min"): line by line, "how long does a perm take" found "Service: Perm" and read the price after it.
 */
function mergeRecords(lines: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j < lines.length && FIELD.test(lines[j]!)) j++;
    if (j - i >= 2) {
      out.push(`${lines.slice(i, j).map((l) => l.replace(/:\s+/, ' ').replace(/[.;,\s]+$/, '')).join(', ')}.`);
      i = j - 1;
    } else out.push(lines[i]!);
  }
  return out;
}

/** Sentences (and table rows as sentences) of a chunk, cleaned of markup, file names and headings' hashes. */
export function spokenSentences(chunk: string): string[] {
  const lines = chunk
    .split(/\r?\n/)
    .map((l) => l.trim())
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
  const out: string[] = [];
  for (const line of mergeRecords(lines)) {
    for (const s of line.split(/(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9"«])/)) if (s.trim()) out.push(s.trim());
  }
  return out;
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
 * The answer to `question` from `chunk` (under the heading path `section`, if any): its best sentence (plus the next when the first is only a heading), the
 * sentences weighed by how rare the shared words are across `corpus` (default: the chunk's own passages). None when
 * the chunk shares no word with the question, or only words common across the corpus ("do you fix your hours" is
 * not answered by the cancellation sentence because it says "24 hours").
 */
export function spokenAnswer(chunk: string, question: string, corpus?: TermStats, section?: string | null): string | null {
  const sentences = spokenSentences(chunk);
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
    const words = stems(s);
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
  if (out.length < 40 && sentences[best + 1] && !/[.!?]$/.test(out)) out = `${out.replace(/[:\s]+$/, '')}: ${sentences[best + 1]}`;
  else if (out.length < 40 && sentences[best + 1]) out += ` ${sentences[best + 1]}`;
  // The next sentence answers the question too ("…free up to 24 hours before. Later cancellations cost $20."): say both.
  // Only on a word of the question as it is: "…cleaning costs 80 dollars" is not followed by what whitening costs.
  else if (sentences[best + 1] && (exactRareHitsOf[best + 1] ?? 0) > 0 && out.length + sentences[best + 1]!.length < MAX_CHARS) out += ` ${sentences[best + 1]}`;
  if (out.length > MAX_CHARS) {
    const cut = out.lastIndexOf(' ', MAX_CHARS);
    out = `${out.slice(0, cut > 0 ? cut : MAX_CHARS).replace(/[,;:\s]+$/, '')}.`;
  }
  out = out.replace(/(?<!\s)\s+([,.!?])/g, '$1').replace(/^[,;:\s]+/, '');
  if (!/[.!?…]$/.test(out)) out += '.';
  return out.charAt(0).toUpperCase() + out.slice(1);
}
