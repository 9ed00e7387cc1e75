/**
 * The redaction rules of a call's bot, read once per call (the first stored turn) and kept in a small bounded
 * cache: appendTurn runs once per turn, never per frame, and a bot's privacy settings apply to a call as they were
 * when it began storing turns.
 */
import type { Db } from '../db/sql.js';
import { redactRulesOf, type RedactRule } from './redact.js';

const MAX_CACHED = 5000;
const cache = new Map<string, readonly RedactRule[]>();

export async function callRedactRules(db: Db, call: { callId: string; companyId: string }): Promise<readonly RedactRule[]> {
  const hit = cache.get(call.callId);
  if (hit) return hit;
  const [row] = await db<{ config: { privacy?: { redact?: string[] } } | null }[]>`
    select b.config from calls c left join bots b on b.id = c.bot_id
    where c.id = ${call.callId} and c.company_id = ${call.companyId}`;
  const rules = redactRulesOf(row?.config ?? null);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(call.callId, rules);
  return rules;
}
