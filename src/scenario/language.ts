/** Language of a caller's words, and the normalisation the intent rules match against. */
import type { Language } from '../providers/types.js';

export function detectLanguage(text: string, fallback: Language): Language {
  const cyr = (text.match(/[а-яё]/gi) ?? []).length;
  const lat = (text.match(/[a-z]/gi) ?? []).length;
  if (cyr > lat) return 'ru';
  if (lat > cyr) return 'en';
  return fallback;
}

/** Lower case, "ё" as "е", curly quotes straight, single spaces. */
export function normalize(text: string): string {
  return text.toLowerCase().replace(/ё/g, 'е').replace(/[’‘]/g, "'").replace(/\s+/g, ' ').trim();
}
