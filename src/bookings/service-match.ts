/**
 * Finds the service a caller named ("a haircut", "стрижку", "beard trim") among the configured ones by
 * name, id or alias: exact, then containment, then shared word stems (Russian endings vary by case),
 * then edit distance for mishearings.
 */
import type { BookingService } from './config-schema.js';
import { editDistance, normalizeText as normalize } from './flow/fuzzy.js';

const STOP = new Set(['a', 'an', 'the', 'for', 'to', 'my', 'on', 'на', 'в', 'для', 'мне', 'хочу']);
// Stems: Russian case endings change the last one or two letters ("стрижка" / "стрижку" / "стрижкой").
const stem = (w: string): string => (w.length > 5 ? w.slice(0, -2) : w.length > 3 ? w.slice(0, -1) : w);
const words = (s: string): string[] => normalize(s).split(' ').filter((w) => w && !STOP.has(w));

function score(query: string, name: string): number {
  const q = normalize(query);
  const n = normalize(name);
  if (!q || !n) return 0;
  if (q === n) return 1;
  if (q.includes(n) || n.includes(q)) return 0.9;
  const qs = new Set(words(query).map(stem));
  const ns = words(name).map(stem);
  const shared = ns.filter((w) => qs.has(w)).length;
  if (shared > 0) return 0.6 + 0.2 * (shared / Math.max(ns.length, 1));
  const sim = 1 - editDistance(q, n) / Math.max(q.length, n.length);
  return sim >= 0.7 ? sim * 0.7 : 0;
}

export function matchService(query: string, services: readonly BookingService[]): BookingService | null {
  let best: BookingService | null = null;
  let bestScore = 0;
  for (const s of services) {
    for (const name of [s.name, s.id, ...(s.aliases ?? [])]) {
      const sc = score(query, name);
      if (sc > bestScore) {
        bestScore = sc;
        best = s;
      }
    }
  }
  return bestScore > 0 ? best : null;
}
