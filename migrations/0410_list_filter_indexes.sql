-- The lists' filters (GET /v1/calls ?status= ?direction=, GET /v1/webhooks/deliveries ?status= ?type=, GET
-- /v1/audit-log ?actor=) had no index in their list's order: the planner read every row the company has — a
-- parallel sequential scan of the table — and sorted what matched, for each page. 300,000 rows of one company on
-- PostgreSQL 15 here: 25–36 ms a page for a value few rows have (a dead delivery, a rare actor, a web call), and
-- growing with the company, so a large tenant's filtered page ran into the query deadline.
--
-- Each index leads with (company_id, the filter) and then the list's own order, so a filtered page is a walk of the
-- index that stops at the page's last row, and the cursor's keyset is a bound of that walk: 0.02–0.06 ms a page.
-- Built in this migration's transaction: about 0.5 s per index per 300,000 rows, writes to the table wait for it.
create index calls_company_status_started_idx on calls (company_id, status, started_at desc, id desc);
create index calls_company_direction_started_idx on calls (company_id, direction, started_at desc, id desc);
create index webhook_events_company_status_idx on webhook_events (company_id, status, seq desc);
create index webhook_events_company_type_idx on webhook_events (company_id, type, seq desc);
create index audit_log_company_actor_idx on audit_log (company_id, actor, id desc);
