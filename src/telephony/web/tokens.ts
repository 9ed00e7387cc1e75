/**
 * Web-call tokens: random, opaque, stored only as a SHA-256 hash. Minting creates the call row (direction 'web',
 * queued) and the token in one transaction; claiming is a single conditional UPDATE, so a token is used once
 * even when two sockets on two server instances present it at the same moment.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createCall, endCallInTx } from '../../call/lifecycle.js';
import { countLiveCalls, type CallRow } from '../../db/calls.js';
import { ParleyError } from '../../errors.js';
import type { Db, RootSql } from '../../db/sql.js';

const PREFIX = 'wct_';

export interface MintedWebCall {
  token: string;
  call: CallRow;
  expiresAt: Date;
}

export interface WebCallTokenRow {
  call_id: string;
  company_id: string;
  bot_id: string;
  expires_at: Date;
  used_at: Date | null;
}

export function hashWebCallToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Creates the call (queued) and its token. `maxActive`: the company's web calls not yet ended — minted and not
 * started included — may not exceed it (429), so one tenant's page cannot open hundreds of sessions on a shared
 * server; 0 turns web calls off.
 */
export async function mintWebCall(sql: RootSql, o: { companyId: string; botId: string; ttlSec: number; maxActive?: number }): Promise<MintedWebCall> {
  const token = PREFIX + randomBytes(32).toString('base64url');
  return sql.begin(async (tx) => {
    if (o.maxActive !== undefined) {
      const n = await countLiveCalls(tx, o.companyId, 'web');
      if (n >= o.maxActive) {
        throw new ParleyError('PARLEY_ERR_RATE_LIMITED', o.maxActive === 0 ? 'Web calls are turned off on this server' : `${n} web calls are already open (the limit is ${o.maxActive})`);
      }
    }
    const call = await createCall(tx, { companyId: o.companyId, botId: o.botId, direction: 'web', status: 'queued' });
    const [row] = await tx<{ expires_at: Date }[]>`
      insert into web_call_tokens (token_hash, call_id, company_id, bot_id, expires_at)
      values (${hashWebCallToken(token)}, ${call.id}, ${o.companyId}, ${o.botId}, now() + ${o.ttlSec} * interval '1 second')
      returning expires_at`;
    return { token, call, expiresAt: row!.expires_at };
  });
}

/** Looks a token up without using it (to check the origin first). Undefined for malformed or unknown tokens. */
export async function findWebCallToken(db: Db, token: string): Promise<WebCallTokenRow | undefined> {
  if (!token.startsWith(PREFIX) || token.length > 100) return undefined;
  const [row] = await db<WebCallTokenRow[]>`
    select call_id, company_id, bot_id, expires_at, used_at from web_call_tokens where token_hash = ${hashWebCallToken(token)}`;
  return row;
}

/** Uses the token: returns its row if it was unused and unexpired, else undefined. Atomic. */
export async function claimWebCallToken(db: Db, token: string): Promise<WebCallTokenRow | undefined> {
  if (!token.startsWith(PREFIX) || token.length > 100) return undefined;
  const [row] = await db<WebCallTokenRow[]>`
    update web_call_tokens set used_at = now()
    where token_hash = ${hashWebCallToken(token)} and used_at is null and expires_at > now()
    returning call_id, company_id, bot_id, expires_at, used_at`;
  return row;
}

/** Expired tokens handled per transaction: each may end a call (its row, event and job), and PGlite has one connection. */
const SWEEP_BATCH = 100;

/**
 * Web calls that never started by the time their token expired never had a caller: the token unused
 * (`token_expired`), or used by a page that left, or was refused, before the call started (`not_started`). They are
 * marked canceled so they do not sit in `queued` forever, and every expired token row is dropped. A call that did
 * start is left alone. Run periodically (one instance's sweep skips rows another holds); works in batches of
 * `batch` tokens, a short transaction each; returns how many calls it closed.
 */
export async function closeAbandonedWebCalls(sql: RootSql, batch = SWEEP_BATCH): Promise<number> {
  let closed = 0;
  for (;;) {
    const taken = await sql.begin(async (tx) => {
      const expired = await tx<{ call_id: string; company_id: string; used: boolean }[]>`
        delete from web_call_tokens where token_hash = any(array(
          select token_hash from web_call_tokens where expires_at < now() order by expires_at limit ${batch} for update skip locked))
        returning call_id, company_id, used_at is not null as used`;
      for (const t of expired) {
        if (t.used) {
          const [call] = await tx<{ status: string }[]>`select status from calls where id = ${t.call_id} for update`;
          if (call?.status !== 'queued') continue;
        }
        const reason = t.used ? 'not_started' : 'token_expired';
        const ended = await endCallInTx(tx, { callId: t.call_id, companyId: t.company_id }, { status: 'canceled', reason }, { by: 'expiry', durationSec: 0 });
        if (ended) closed++;
      }
      return expired.length;
    });
    if (taken < batch) return closed;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
