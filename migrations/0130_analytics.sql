-- Analytics (issue #17): a rollup of calls, outcomes and bookings per (company, bot, 15-minute bucket), and
-- running totals within each UTC day (below), kept current by the workers, so GET /v1/analytics reads about two
-- small rows per day of its range instead of a year of calls.
--
-- How it stays current: triggers on calls, outcomes, bookings and booking_events mark the bucket a change
-- touches as dirty (analytics_dirty, one row per bucket however many changes); a worker (src/analytics/rollup.ts,
-- the leased poller) claims dirty buckets with FOR UPDATE SKIP LOCKED and recomputes each from the source
-- tables. Recomputing from the source (not adding deltas) makes it idempotent and right after any change:
-- a call ended, analysed, purged by retention or erased on request, a booking cancelled through the API.
-- Buckets are 15 minutes wide, aligned to UTC, so a day in any IANA time zone (every offset in use is a
-- multiple of 15 minutes) is a whole number of buckets.
--
-- Percentiles come from fixed histograms (dh = call duration, seconds; lh = bot response latency, ms; bounds
-- in src/analytics/buckets.ts): exact to the bucket, interpolated within it.

-- Why a call ended (caller_hangup, transferred, silence…), for every status; failure_reason stays as it was.
alter table calls add column end_reason text;

create table call_rollup (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  bucket timestamptz not null,
  calls integer not null default 0,
  inbound integer not null default 0,
  outbound integer not null default 0,
  web integer not null default 0,
  live integer not null default 0,
  st_completed integer not null default 0,
  st_failed integer not null default 0,
  st_busy integer not null default 0,
  st_no_answer integer not null default 0,
  st_canceled integer not null default 0,
  answered integer not null default 0,
  transferred integer not null default 0,
  analyzed integer not null default 0,
  leads integer not null default 0,
  barge_ins integer not null default 0,
  bookings_made integer not null default 0,
  bookings_cancelled integer not null default 0,
  duration_count integer not null default 0,
  duration_sum bigint not null default 0,
  duration_max integer not null default 0,
  latency_count integer not null default 0,
  latency_sum bigint not null default 0,
  latency_max integer not null default 0,
  dh00 integer not null default 0,
  dh01 integer not null default 0,
  dh02 integer not null default 0,
  dh03 integer not null default 0,
  dh04 integer not null default 0,
  dh05 integer not null default 0,
  dh06 integer not null default 0,
  dh07 integer not null default 0,
  dh08 integer not null default 0,
  dh09 integer not null default 0,
  dh10 integer not null default 0,
  dh11 integer not null default 0,
  dh12 integer not null default 0,
  dh13 integer not null default 0,
  dh14 integer not null default 0,
  dh15 integer not null default 0,
  dh16 integer not null default 0,
  dh17 integer not null default 0,
  dh18 integer not null default 0,
  dh19 integer not null default 0,
  lh00 integer not null default 0,
  lh01 integer not null default 0,
  lh02 integer not null default 0,
  lh03 integer not null default 0,
  lh04 integer not null default 0,
  lh05 integer not null default 0,
  lh06 integer not null default 0,
  lh07 integer not null default 0,
  lh08 integer not null default 0,
  lh09 integer not null default 0,
  lh10 integer not null default 0,
  lh11 integer not null default 0,
  lh12 integer not null default 0,
  lh13 integer not null default 0,
  lh14 integer not null default 0,
  lh15 integer not null default 0,
  lh16 integer not null default 0,
  lh17 integer not null default 0,
  lh18 integer not null default 0,
  lh19 integer not null default 0,
  lh20 integer not null default 0,
  lh21 integer not null default 0,
  lh22 integer not null default 0,
  lh23 integer not null default 0,
  updated_at timestamptz not null default now(),
  primary key (company_id, bucket, bot_id)
);
create index call_rollup_bot_idx on call_rollup (bot_id, bucket);

create table call_outcome_rollup (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  bucket timestamptz not null,
  outcome_type text not null,
  calls integer not null,
  primary key (company_id, bucket, bot_id, outcome_type)
);

-- Buckets whose rollup rows are stale. No foreign keys: a company being deleted marks buckets while its rows
-- cascade away; the worker then finds nothing to count and drops the mark.
create table analytics_dirty (
  company_id uuid not null,
  bot_id uuid not null,
  bucket timestamptz not null,
  marked_at timestamptz not null,
  locked_until timestamptz,
  primary key (company_id, bot_id, bucket)
);
-- Claims walk buckets in time order, so one batch touches few days (their running totals are rebuilt once).
create index analytics_dirty_claim_idx on analytics_dirty (company_id, bucket);

create function analytics_bucket(ts timestamptz) returns timestamptz
  language sql immutable parallel safe
  as $$ select date_bin('15 minutes', ts, timestamptz '2000-01-01 00:00:00+00') $$;

create function analytics_mark(p_company uuid, p_bot uuid, p_at timestamptz) returns void
  language sql
  as $$
    insert into analytics_dirty (company_id, bot_id, bucket, marked_at)
    select p_company, p_bot, analytics_bucket(p_at), clock_timestamp()
    where p_company is not null and p_bot is not null and p_at is not null
    on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at
  $$;

-- calls: inserts and deletes per statement (a retention purge of a million rows marks each bucket once);
-- updates per row, only when something counted changed (a turn appended to a live call marks nothing).
create function analytics_calls_rows() returns trigger language plpgsql as $$
begin
  insert into analytics_dirty (company_id, bot_id, bucket, marked_at)
  select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
    select distinct r.company_id, r.bot_id, analytics_bucket(r.started_at) as bucket
    from changed_calls r where r.company_id is not null and r.bot_id is not null) t
  on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at;
  return null;
end $$;
create trigger calls_analytics_insert after insert on calls referencing new table as changed_calls
  for each statement execute function analytics_calls_rows();
create trigger calls_analytics_delete after delete on calls referencing old table as changed_calls
  for each statement execute function analytics_calls_rows();

create function analytics_call_updated() returns trigger language plpgsql as $$
begin
  perform analytics_mark(old.company_id, old.bot_id, old.started_at);
  if (old.company_id, old.bot_id, analytics_bucket(old.started_at)) is distinct from (new.company_id, new.bot_id, analytics_bucket(new.started_at)) then
    perform analytics_mark(new.company_id, new.bot_id, new.started_at);
  end if;
  return null;
end $$;
create trigger calls_analytics_update after update on calls for each row
  when (old.status is distinct from new.status or old.ended_at is distinct from new.ended_at
    or old.duration_sec is distinct from new.duration_sec or old.answered_at is distinct from new.answered_at
    or old.end_reason is distinct from new.end_reason or old.direction is distinct from new.direction
    or old.company_id is distinct from new.company_id or old.bot_id is distinct from new.bot_id
    or old.started_at is distinct from new.started_at
    or (new.ended_at is not null and jsonb_array_length(old.transcript) <> jsonb_array_length(new.transcript)))
  execute function analytics_call_updated();

-- outcomes: counted in the bucket of their call.
create function analytics_outcome_changed() returns trigger language plpgsql as $$
begin
  if tg_op <> 'INSERT' then
    perform analytics_mark(c.company_id, c.bot_id, c.started_at) from calls c where c.id = old.call_id;
  end if;
  if tg_op <> 'DELETE' then
    perform analytics_mark(c.company_id, c.bot_id, c.started_at) from calls c where c.id = new.call_id;
  end if;
  return null;
end $$;
create trigger outcomes_analytics after insert or delete or update of outcome_type, call_id on outcomes
  for each row execute function analytics_outcome_changed();

-- bookings: made in the bucket they were created in (holds that lapse are not bookings).
create function analytics_booking_changed() returns trigger language plpgsql as $$
begin
  if tg_op <> 'INSERT' then perform analytics_mark(old.company_id, old.bot_id, old.created_at); end if;
  if tg_op <> 'DELETE' then perform analytics_mark(new.company_id, new.bot_id, new.created_at); end if;
  return null;
end $$;
create trigger bookings_analytics after insert or delete or update of status, bot_id on bookings
  for each row execute function analytics_booking_changed();

-- cancellations: counted when they happen.
create function analytics_booking_event() returns trigger language plpgsql as $$
begin
  if new.to_status = 'cancelled' then
    perform analytics_mark(b.company_id, b.bot_id, new.created_at) from bookings b where b.id = new.booking_id;
  end if;
  return null;
end $$;
create trigger booking_events_analytics after insert on booking_events
  for each row execute function analytics_booking_event();
create index booking_events_cancelled_idx on booking_events (company_id, created_at) where to_status = 'cancelled';


-- Running totals within each UTC day, per bot and for all of a company's bots (bot_id = the nil uuid): the row
-- of slot k holds the sums of the day's buckets 0..k-1 (a row only where a bucket has data; a lookup takes the
-- latest slot at or before the one it needs). A local day in any time zone is then two lookups and the UTC
-- days' totals between them, so a year by day reads about 730 rows whatever the zone and however many calls.
create table call_rollup_cum (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  day date not null,
  slot smallint not null check (slot between 1 and 96),
  calls bigint not null default 0,
  inbound bigint not null default 0,
  outbound bigint not null default 0,
  web bigint not null default 0,
  live bigint not null default 0,
  st_completed bigint not null default 0,
  st_failed bigint not null default 0,
  st_busy bigint not null default 0,
  st_no_answer bigint not null default 0,
  st_canceled bigint not null default 0,
  answered bigint not null default 0,
  transferred bigint not null default 0,
  analyzed bigint not null default 0,
  leads bigint not null default 0,
  barge_ins bigint not null default 0,
  bookings_made bigint not null default 0,
  bookings_cancelled bigint not null default 0,
  duration_count bigint not null default 0,
  latency_count bigint not null default 0,
  duration_sum bigint not null default 0,
  latency_sum bigint not null default 0,
  dh00 bigint not null default 0,
  dh01 bigint not null default 0,
  dh02 bigint not null default 0,
  dh03 bigint not null default 0,
  dh04 bigint not null default 0,
  dh05 bigint not null default 0,
  dh06 bigint not null default 0,
  dh07 bigint not null default 0,
  dh08 bigint not null default 0,
  dh09 bigint not null default 0,
  dh10 bigint not null default 0,
  dh11 bigint not null default 0,
  dh12 bigint not null default 0,
  dh13 bigint not null default 0,
  dh14 bigint not null default 0,
  dh15 bigint not null default 0,
  dh16 bigint not null default 0,
  dh17 bigint not null default 0,
  dh18 bigint not null default 0,
  dh19 bigint not null default 0,
  lh00 bigint not null default 0,
  lh01 bigint not null default 0,
  lh02 bigint not null default 0,
  lh03 bigint not null default 0,
  lh04 bigint not null default 0,
  lh05 bigint not null default 0,
  lh06 bigint not null default 0,
  lh07 bigint not null default 0,
  lh08 bigint not null default 0,
  lh09 bigint not null default 0,
  lh10 bigint not null default 0,
  lh11 bigint not null default 0,
  lh12 bigint not null default 0,
  lh13 bigint not null default 0,
  lh14 bigint not null default 0,
  lh15 bigint not null default 0,
  lh16 bigint not null default 0,
  lh17 bigint not null default 0,
  lh18 bigint not null default 0,
  lh19 bigint not null default 0,
  lh20 bigint not null default 0,
  lh21 bigint not null default 0,
  lh22 bigint not null default 0,
  lh23 bigint not null default 0,
  primary key (company_id, bot_id, day, slot)
);

create table call_outcome_cum (
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null,
  day date not null,
  outcome_type text not null,
  slot smallint not null check (slot between 1 and 96),
  calls bigint not null,
  -- Every type seen that day at every slot that has outcomes: a lookup finds the latest slot, then reads its types.
  primary key (company_id, bot_id, day, slot, outcome_type)
);
