/**
 * Words from callers and providers (typed web-call text, recognizer transcripts, LLM output) as PostgreSQL can
 * store them: text and jsonb refuse a NUL, and jsonb an unpaired UTF-16 surrogate. Such words are cleaned, never
 * refused — the turn is what the caller said, and it must reach the transcript. (The REST API, where a client can
 * be told, refuses them instead: api/request-guards.ts.)
 */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** NUL removed, each unpaired surrogate as U+FFFD. The usual clean string is returned as it is. */
export function storableText(s: string): string {
  const noNul = s.includes('\u0000') ? s.replaceAll('\u0000', '') : s;
  return LONE_SURROGATE.test(noNul) ? noNul.replace(LONE_SURROGATES, '\ufffd') : noNul;
}

/** Every string and key in a JSON-like value, storable. */
export function storableJson<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) return value.map((v) => storableJson(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[storableText(k)] = storableJson(v);
    return out as T;
  }
  return value;
}
