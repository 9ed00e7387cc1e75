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
  /** Entries after this one in the list's order (the previous page's last entry's id). */
  before?: number;
}

/**
 * A page of the company's log, newest first: (created_at desc, id desc), the order of its indexes (migrations/0432),
 * so `from`/`to` are a range of the index that serves the page, with or without `action` or `actor`. The cursor is
 * the last entry's id; its place in the order is read back by primary key (an id not in the company's log: no rows).
 */
export async function listAudit(db: Db, companyId: string, f: AuditFilter, limit: number): Promise<AuditEntry[]> {
  return db<AuditEntry[]>`
    select id::text as id, actor, action, resource_id, changed_fields, details, status_code, request_id, ip, created_at
    from audit_log
    where company_id = ${companyId}
      ${f.action ? db`and action = ${f.action}` : db``}
      ${f.actor ? db`and actor = ${f.actor}` : db``}
      ${f.from ? db`and created_at >= ${f.from}` : db``}
      ${f.to ? db`and created_at < ${f.to}` : db``}
      ${f.before !== undefined
        ? db`and (created_at, id) < (select c.created_at, c.id from audit_log c where c.id = ${f.before} and c.company_id = ${companyId})`
        : db``}
    order by audit_log.created_at desc, audit_log.id desc
    limit ${limit}`;
}
