/**
 * The words a bot's callers will say that a general recognizer does not expect: its business name, its services
 * and their aliases, its staff. They go to the recognizer as the session's `keyterms` (Deepgram's keyterm
 * prompting; the local recognizer builds a language model from them, src/providers/stt/local-lm.ts).
 */
import type { BookingConfig } from './config-schema.js';

/** Deepgram accepts up to 100 keyterms per request; more would be cut anyway. */
const MAX_TERMS = 100;

export function botKeyterms(bot: { name: string; config: { booking?: BookingConfig | undefined } }): string[] {
  const booking = bot.config.booking;
  const terms = [
    bot.name,
    ...(booking?.services ?? []).flatMap((s) => [s.name, ...(s.aliases ?? [])]),
    ...(booking?.resources ?? []).map((r) => r.name),
  ];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of terms) {
    const term = t.trim();
    if (!term || seen.has(term.toLowerCase())) continue;
    seen.add(term.toLowerCase());
    out.push(term);
  }
  return out.slice(0, MAX_TERMS);
}
