-- GET /v1/usage summed the raw usage rows (call_usage, ingest_usage) of its whole range on every request: 0.53 s for a
-- year of 300,000 calls, growing with the company. Usage gets the rollup analytics has (0130): per company, bot,
-- 15-minute UTC bucket and (kind, provider, model), the summed quantity; and running totals within each UTC day, per
-- bot and for all of a company's bots (bot_id = the nil uuid), so a local day in any time zone the endpoint accepts
-- (every offset in use is a multiple of 15 minutes) is two lookups and the UTC days' totals between them.
--
-- How it stays exact: triggers on call_usage and ingest_usage mark the buckets an insert, update (a call's usage
-- added to at its end, its minutes changed, a bot deleted) or delete (a company erased) touches in usage_dirty; the
-- rollup (src/usage/rollup.ts, the machinery analytics uses: src/analytics/dirty-buckets.ts) recomputes each marked
-- bucket from the raw rows — the worker, or GET /v1/usage for its company before it answers.
--
-- Usage with no bot (ingestion without one, a deleted bot's calls) is rolled up under the all-ones uuid, which no
-- bot has (bots' ids are version-4 uuids): it counts in the company's totals and in no bot's.

create table usage_rollup (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  bucket timestamptz not null,
  kind text not null,
  provider text not null,
  model text not null,
  quantity bigint not null,
  primary key (company_id, bucket, bot_id, kind, provider, model)
);

-- Every (kind, provider, model) seen that day at every slot that has usage: a lookup finds the latest slot at or
-- before the one it needs, then reads its items (as call_outcome_cum).
create table usage_rollup_cum (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  day date not null,
  slot smallint not null check (slot between 1 and 96),
  kind text not null,
  provider text not null,
  model text not null,
  quantity bigint not null,
  primary key (company_id, bot_id, day, slot, kind, provider, model)
);

-- Buckets whose usage rollup rows are stale (as analytics_dirty; no foreign keys, for the same reason).
create table usage_dirty (
  company_id uuid not null,
  bot_id uuid not null,
  bucket timestamptz not null,
  marked_at timestamptz not null,
  locked_until timestamptz,
  primary key (company_id, bot_id, bucket)
);
create index usage_dirty_claim_idx on usage_dirty (company_id, bucket);

-- Inserts and deletes mark per statement (a company's erasure, a batch of rows, marks each bucket once), in key order
-- (as 0240 asks); a mark frees its lease, as analytics' does. tg_argv[0] names the row's time column (started_at, occurred_at).
create function usage_rows_changed() returns trigger language plpgsql as $$
begin
  execute format($q$
    insert into usage_dirty (company_id, bot_id, bucket, marked_at)
    select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
      select distinct r.company_id, coalesce(r.bot_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) as bot_id, analytics_bucket(r.%1$I) as bucket
      from changed_usage r) t
    order by t.company_id, t.bot_id, t.bucket
    on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null$q$, tg_argv[0]);
  return null;
end $$;

-- An update marks, row by row, both sides of a row whose counted columns changed: the bucket it left and the one it
-- is in (a call's usage added to at its end, a deleted bot's usage moved to no bot). A retention purge setting
-- call_id null changes nothing counted: the trigger's condition skips it without a call. (A trigger reading the
-- transition tables of an update cannot be limited to some columns, and would run for each row a purge touches.)
create function usage_mark(p_company uuid, p_bot uuid, p_at timestamptz) returns void
  language sql
  as $$
    insert into usage_dirty (company_id, bot_id, bucket, marked_at)
    select p_company, coalesce(p_bot, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), analytics_bucket(p_at), clock_timestamp()
    where p_company is not null and p_at is not null
    on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null
  $$;

create function usage_row_updated() returns trigger language plpgsql as $$
declare
  old_at timestamptz := (to_jsonb(old) ->> tg_argv[0])::timestamptz;
  new_at timestamptz := (to_jsonb(new) ->> tg_argv[0])::timestamptz;
begin
  perform usage_mark(old.company_id, old.bot_id, old_at);
  if (old.company_id, old.bot_id, analytics_bucket(old_at)) is distinct from (new.company_id, new.bot_id, analytics_bucket(new_at)) then
    perform usage_mark(new.company_id, new.bot_id, new_at);
  end if;
  return null;
end $$;

create trigger call_usage_rollup_insert after insert on call_usage referencing new table as changed_usage
  for each statement execute function usage_rows_changed('started_at');
create trigger call_usage_rollup_delete after delete on call_usage referencing old table as changed_usage
  for each statement execute function usage_rows_changed('started_at');
create trigger call_usage_rollup_update after update on call_usage for each row
  when ((old.company_id, old.bot_id, old.started_at, old.kind, old.provider, old.model, old.quantity)
    is distinct from (new.company_id, new.bot_id, new.started_at, new.kind, new.provider, new.model, new.quantity))
  execute function usage_row_updated('started_at');
create trigger ingest_usage_rollup_insert after insert on ingest_usage referencing new table as changed_usage
  for each statement execute function usage_rows_changed('occurred_at');
create trigger ingest_usage_rollup_delete after delete on ingest_usage referencing old table as changed_usage
  for each statement execute function usage_rows_changed('occurred_at');
create trigger ingest_usage_rollup_update after update on ingest_usage for each row
  when ((old.company_id, old.bot_id, old.occurred_at, old.kind, old.provider, old.model, old.quantity)
    is distinct from (new.company_id, new.bot_id, new.occurred_at, new.kind, new.provider, new.model, new.quantity))
  execute function usage_row_updated('occurred_at');

-- The usage already recorded: every bucket that has any is marked, and rolled up by the worker (or by GET /v1/usage
-- for its company first). Until a company's marks in a range are cleared, GET /v1/usage counts that range from the
-- raw rows, as before: an answer is never short.
insert into usage_dirty (company_id, bot_id, bucket, marked_at)
select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
  select company_id, coalesce(bot_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) as bot_id, analytics_bucket(started_at) as bucket from call_usage
  union
  select company_id, coalesce(bot_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), analytics_bucket(occurred_at) from ingest_usage) t
order by t.company_id, t.bot_id, t.bucket
on conflict (company_id, bot_id, bucket) do nothing;

-- Lists newest first, as the README says every list is: a campaign's contacts and the admin's companies were listed
-- by their random ids (an order that means nothing: a page of the middle of an upload, then of another). Both now
-- page by (created_at desc, id desc) like the others; the indexes make a page a walk that stops at its last row
-- (the contacts' state filter too, which replaces the index on (campaign_id, state) it extends). The cursor's time
-- travels as a JS date, so creation times are kept to the millisecond, as 0250 made them for bots and API keys. The
-- contacts' statistics triggers count states, not times: they are left out of rewriting the times.
alter table campaign_contacts disable trigger campaign_contacts_stats_update;
update campaign_contacts set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table campaign_contacts enable trigger campaign_contacts_stats_update;
alter table campaign_contacts alter column created_at set default date_trunc('milliseconds', now());
update companies set created_at = date_trunc('milliseconds', created_at) where created_at <> date_trunc('milliseconds', created_at);
alter table companies alter column created_at set default date_trunc('milliseconds', now());
create index campaign_contacts_created_idx on campaign_contacts (campaign_id, created_at desc, id desc);
create index campaign_contacts_state_created_idx on campaign_contacts (campaign_id, state, created_at desc, id desc);
drop index campaign_contacts_state_idx;
create index companies_created_idx on companies (created_at desc, id desc);
