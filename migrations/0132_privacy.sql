-- Privacy (issue #17 point 5): per-company retention, and what erasure of one phone number needs.

-- Calls (with their outcomes, webhook events and recordings) older than this many days are purged by the
-- retention worker (src/privacy/retention.ts); null keeps everything.
alter table companies add column retention_days integer check (retention_days is null or retention_days between 1 and 36500);

-- The webhook events about a call (ordering_key = the call id), found when the call is purged or erased
-- (the existing index covers pending events only).
create index webhook_events_ordering_key_idx on webhook_events (company_id, ordering_key) where ordering_key is not null;

-- Calls from/to one number, for erasure.
create index calls_company_from_idx on calls (company_id, from_number) where from_number is not null;
create index calls_company_to_idx on calls (company_id, to_number) where to_number is not null;
