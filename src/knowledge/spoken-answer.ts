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
  for (const line of lines) {
    for (const s of line.split(/(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9"«])/)) if (s.trim()) out.push(s.trim());
  }
  return out;
}

/** The answer to `question` from `chunk`: its best sentence (plus the next when the first is only a heading). */
export function spokenAnswer(chunk: string, question: string): string | null {
  const sentences = spokenSentences(chunk);
  if (!sentences.length) return null;
  const terms = stems(question);
  let best = 0;
  let bestScore = -1;
  let bestHits = 0;
  const hitsOf: number[] = [];
  sentences.forEach((s, i) => {
    const words = stems(s);
    let hits = 0;
    for (const t of terms) if (words.has(t)) hits++;
    hitsOf[i] = hits;
    bestHits = Math.max(bestHits, hits);
    let score = hits;
    // A heading or a label line says little; prefer sentences with a verb-ish length.
    if (s.length < 25 && !/\d/.test(s)) score -= 0.5;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  // Nothing in the chunk shares a word with the question: it does not answer it.
  if (terms.size > 0 && bestHits === 0) return null;
  let out = sentences[best]!;
  if (out.length < 40 && sentences[best + 1] && !/[.!?]$/.test(out)) out = `${out.replace(/[:\s]+$/, '')}: ${sentences[best + 1]}`;
  else if (out.length < 40 && sentences[best + 1]) out += ` ${sentences[best + 1]}`;
  // The next sentence answers the question too ("…free up to 24 hours before. Later cancellations cost $20."): say both.
  else if (sentences[best + 1] && (hitsOf[best + 1] ?? 0) > 0 && out.length + sentences[best + 1]!.length < MAX_CHARS) out += ` ${sentences[best + 1]}`;
  if (out.length > MAX_CHARS) {
    const cut = out.lastIndexOf(' ', MAX_CHARS);
    out = `${out.slice(0, cut > 0 ? cut : MAX_CHARS).replace(/[,;:\s]+$/, '')}.`;
  }
  out = out.replace(/\s+([,.!?])/g, '$1').replace(/^[,;:\s]+/, '');
  if (!/[.!?…]$/.test(out)) out += '.';
  return out.charAt(0).toUpperCase() + out.slice(1);
}
