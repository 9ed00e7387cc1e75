/** Reading the audit log (append-only; see migrations/0131_audit_log.sql). */
import type { Db } from '../db/sql.js';

export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  resource_id: string | null;
  changed_fields: string[];
  details: Record<string, unknown>;
  status_code: number;
  request_id: string;
  ip: string | null;
  created_at: Date;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  from?: Date;
  to?: Date;
  /** Entries with a smaller id (newest first). */
  before?: number;
}

export async function listAudit(db: Db, companyId: string, f: AuditFilter, limit: number): Promise<AuditEntry[]> {
  return db<AuditEntry[]>`
    select id::text as id, actor, action, resource_id, changed_fields, details, status_code, request_id, ip, created_at
    from audit_log
    where company_id = ${companyId}
      ${f.action ? db`and action = ${f.action}` : db``}
      ${f.actor ? db`and actor = ${f.actor}` : db``}
      ${f.from ? db`and created_at >= ${f.from}` : db``}
      ${f.to ? db`and created_at < ${f.to}` : db``}
      ${f.before !== undefined ? db`and id < ${f.before}` : db``}
    order by audit_log.id desc
    limit ${limit}`;
}
