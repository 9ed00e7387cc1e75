/** A short, speakable answer from a knowledge chunk: the sentence that best matches the question. */
import { normalize } from './language.js';

const MAX_CHARS = 240;

export function speakableExtract(chunk: string, query: string): string {
  const clean = chunk
    .replace(/[#*_`>|]+/g, ' ')
    .replace(/\[(.*?)\]\(.*?\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  const sentences = clean.split(/(?<=[.!?…])\s+(?=[A-ZА-ЯЁ0-9"«])/).filter((s) => s.trim().length > 0);
  const terms = stems(query);
  let best = 0;
  let bestScore = -1;
  sentences.forEach((s, i) => {
    const words = stems(s);
    let score = 0;
    for (const t of terms) if (words.has(t)) score++;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  let out = sentences[best] ?? clean;
  // A very short sentence ("Opening hours:") says little on its own: take the next one too.
  if (out.length < 40 && sentences[best + 1]) out += ` ${sentences[best + 1]}`;
  if (out.length > MAX_CHARS) {
    const cut = out.lastIndexOf(' ', MAX_CHARS);
    out = `${out.slice(0, cut > 0 ? cut : MAX_CHARS).replace(/[,;:\s]+$/, '')}.`;
  }
  if (!/[.!?…]$/.test(out)) out += '.';
  return out;
}

function stems(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of normalize(text).split(/[^\p{L}\p{N}]+/u)) if (w.length > 2) out.add(w.slice(0, 5));
  return out;
}
