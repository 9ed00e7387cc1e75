-- Millisecond precision for the creation time of bots, API keys and bookings, as for calls, campaigns and documents
-- (0001, 0140, 0200): their lists (GET /v1/bots, /v1/api-keys, /v1/bookings) are paged by a keyset cursor of
-- (created_at, id) that travels as a JS date and must compare exactly against the stored time.
update bots set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table bots alter column created_at set default date_trunc('milliseconds', now());
update api_keys set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table api_keys alter column created_at set default date_trunc('milliseconds', now());
update bookings set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table bookings alter column created_at set default date_trunc('milliseconds', now());
drop index bots_company_idx;
create index bots_company_idx on bots (company_id, created_at desc, id desc);
drop index api_keys_company_idx;
create index api_keys_company_idx on api_keys (company_id, created_at desc, id desc);
