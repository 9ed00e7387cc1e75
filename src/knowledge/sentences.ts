/**
 * Sentence splitting for English and Russian. A boundary is terminal punctuation (. ! ? …, possibly with a closing
 * quote or bracket) followed by whitespace and then something that can start a sentence (an upper-case letter,
 * a digit, an opening quote or dash). A period after a known abbreviation ("Dr.", "e.g.", "т.е.", "ул.") or a
 * single initial ("J. Smith", "А. С. Пушкин") is not a boundary.
 */

const ABBREVIATIONS = new Set(
  [
    // English
    'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'inc', 'ltd', 'co', 'corp', 'no',
    'approx', 'dept', 'est', 'fig', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
    'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'a.m', 'p.m', 'u.s', 'ave', 'blvd', 'rd', 'tel', 'ext',
    // Russian
    'т.е', 'т.к', 'т.д', 'т.п', 'т.н', 'др', 'пр', 'им', 'ул', 'г', 'гг', 'д', 'кв', 'пер', 'просп', 'стр', 'тел',
    'руб', 'коп', 'тыс', 'млн', 'млрд', 'см', 'напр', 'проф', 'доц', 'акад', 'с', 'ср', 'рис', 'табл', 'мин', 'сек',
    'обл', 'р-н', 'пос', 'оф', 'корп', 'эт',
  ].map((a) => a.toLowerCase()),
);

// Candidate boundary: terminal punctuation, optional closers, whitespace, then a plausible sentence start.
// The lookbehind starts a match only at the first mark of a run: without it a run of n marks costs n² steps.
const BOUNDARY = /(?<![.!?…])([.!?…]+)(["'»”)\]]*)(\s+)(?=["'«“([\-–—]?[\p{Lu}\p{N}])/gu;

function endsWithAbbreviation(before: string): boolean {
  // The token right before the period, e.g. "e.g" in "... e.g." or "Dr" in "Dr."; dotted forms keep inner dots.
  const m = /([\p{L}][\p{L}.-]*)$/u.exec(before);
  if (!m) return false;
  const token = m[1]!.toLowerCase();
  if (ABBREVIATIONS.has(token)) return true;
  // A single capital letter: an initial ("J." / "А."), not a sentence end.
  return /^\p{Lu}$/u.test(m[1]!);
}

export function splitSentences(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  BOUNDARY.lastIndex = 0;
  for (let m = BOUNDARY.exec(text); m; m = BOUNDARY.exec(text)) {
    const punct = m[1]!;
    const end = m.index + punct.length + m[2]!.length;
    // The last 64 characters hold any abbreviation (a longer word is none): the text since `start` would grow
    // with every abbreviation skipped, n² work for a paragraph of them.
    if (punct === '.' && endsWithAbbreviation(text.slice(Math.max(start, m.index - 64), m.index))) continue;
    const sentence = text.slice(start, end).trim();
    if (sentence) out.push(sentence);
    start = end + m[3]!.length;
  }
  const rest = text.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}
