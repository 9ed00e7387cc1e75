/**
 * Bearer authentication. Company routes take an API key (`pk_…`), found by prefix and compared by hash;
 * admin routes take ADMIN_TOKEN. Every failure is the same 401, so a caller learns nothing about which part
 * was wrong.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findKeyByPrefix, touchApiKey } from '../db/api-keys.js';
import type { Db } from '../db/sql.js';
import { ParleyError } from '../errors.js';
import { hashKey, prefixOf, safeEqualHex, safeEqualString } from './keys.js';

export interface AuthContext {
  companyId: string;
  keyId: string;
  scopes: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
  interface FastifyContextConfig {
    /** Scope a key needs for this route, e.g. 'bots:write'. Keys with '*' have all scopes. */
    scope?: string;
  }
}

const unauthorized = (): ParleyError => new ParleyError('PARLEY_ERR_UNAUTHORIZED', 'Missing or invalid API key');

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
  return m ? m[1]! : null;
}

export function hasScope(scopes: string[], needed: string | undefined): boolean {
  if (!needed) return true;
  const [resource] = needed.split(':');
  return scopes.includes('*') || scopes.includes(needed) || scopes.includes(`${resource}:*`);
}

export function apiKeyAuth(db: Db) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const key = bearer(request);
    const prefix = key ? prefixOf(key) : null;
    if (!key || !prefix) throw unauthorized();
    const row = await findKeyByPrefix(db, prefix);
    if (!row || !safeEqualHex(row.key_hash, hashKey(key)) || !row.usable) throw unauthorized();
    if (!hasScope(row.scopes, request.routeOptions.config.scope)) {
      throw new ParleyError('PARLEY_ERR_FORBIDDEN', `This API key lacks the ${request.routeOptions.config.scope} scope`);
    }
    request.auth = { companyId: row.company_id, keyId: row.id, scopes: row.scopes };
    void touchApiKey(db, row.id).catch((err: unknown) => request.log.warn({ err }, 'could not record key use'));
  };
}

export function adminAuth(adminToken: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearer(request);
    if (!token || !safeEqualString(token, adminToken)) throw new ParleyError('PARLEY_ERR_UNAUTHORIZED', 'Missing or invalid admin token');
  };
}
