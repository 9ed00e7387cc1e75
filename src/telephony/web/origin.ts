/**
 * Which browser pages may open a bot's web call: the bot's `allowedOrigins` (exact origins) plus Parley's own
 * origin (PUBLIC_URL, where /call/:botId is served). Browsers always send Origin on a WebSocket handshake and a
 * page cannot forge it; a client without Origin is not a browser (it could claim any origin anyway), so the
 * token alone authorises it.
 */

/** scheme://host[:port] in canonical form, or null when the value is not an http(s) origin. */
export function canonicalOrigin(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin;
  } catch {
    return null;
  }
}

export function isOriginAllowed(origin: string | undefined, allowedOrigins: readonly string[] | undefined, publicOrigin: string): boolean {
  if (origin === undefined) return true;
  const given = canonicalOrigin(origin);
  if (!given) return false;
  if (given === canonicalOrigin(publicOrigin)) return true;
  return (allowedOrigins ?? []).some((o) => canonicalOrigin(o) === given);
}
