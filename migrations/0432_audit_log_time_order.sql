-- GET /v1/audit-log's from/to filters read the company's whole log: the list was ordered by id and no index has
-- created_at, so a page before `to` (or after `from`, once past the newest entries) walked every entry of the company
-- by id and dropped those outside the range. The list is now ordered by time, newest first — (created_at desc, id
-- desc) — and each of its indexes leads with the company and its filter, then that order, so a time range is a range
-- of the index that serves the page and a page reads about a page (src/audit/repo.ts). The list's indexes ordered by
-- id alone are replaced; (company_id, id desc) stays for the export, which pages by id.
create index audit_log_company_time_idx on audit_log (company_id, created_at desc, id desc);
create index audit_log_company_action_time_idx on audit_log (company_id, action, created_at desc, id desc);
create index audit_log_company_actor_time_idx on audit_log (company_id, actor, created_at desc, id desc);
drop index audit_log_company_action_idx;
drop index audit_log_company_actor_idx;
