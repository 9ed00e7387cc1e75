/**
 * A bot's version for optimistic concurrency: `PATCH /v1/bots/{id}` replaces `config` whole, so two editors who each
 * read the bot and change one field would otherwise lose the first one's change to the second's save. Every single-bot
 * answer carries the version as its `ETag`; a PATCH with `If-Match` is refused with 412, nothing changed, when the bot
 * has changed since (a PATCH without it saves as before). The version is a hash of what the API shows of the row,
 * its `updated_at` included, so any saved change moves it.
 */
import { createHash } from 'node:crypto';
import { ParleyError } from '../errors.js';

export function botVersion(shown: object): string {
  return `"${createHash('sha256').update(JSON.stringify(shown)).digest('base64url').slice(0, 22)}"`;
}

/** A 412 when `ifMatch` (the request's If-Match header) names no version the bot has now; `*` matches any. */
export function assertBotVersion(ifMatch: string | string[] | undefined, current: string): void {
  if (ifMatch === undefined) return;
  const tags = (Array.isArray(ifMatch) ? ifMatch.join(',') : ifMatch).split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (tags.includes('*') || tags.includes(current)) return;
  throw new ParleyError('PARLEY_ERR_PRECONDITION_FAILED', 'The bot has changed since it was read (If-Match): read it again, reapply the change and save', { etag: current });
}
