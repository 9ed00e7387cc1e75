-- A bucket marked again while a rollup holds its lease is free to be claimed at once: the rollup that holds it may
-- have skipped clearing it (src/analytics/rollup.ts clears marks without waiting on the writer that holds one), and
-- would otherwise leave it leased for two minutes. Two rollups of one company-day still never run at once (they
-- take its advisory lock). A statement marking many buckets (a purge) marks them in key order, the order every
-- other writer that marks several should keep, so two such writers wait on each other only one way.
create or replace function analytics_mark(p_company uuid, p_bot uuid, p_at timestamptz) returns void
  language sql
  as $$
    insert into analytics_dirty (company_id, bot_id, bucket, marked_at)
    select p_company, p_bot, analytics_bucket(p_at), clock_timestamp()
    where p_company is not null and p_bot is not null and p_at is not null
    on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null
  $$;

create or replace function analytics_calls_rows() returns trigger language plpgsql as $$
begin
  insert into analytics_dirty (company_id, bot_id, bucket, marked_at)
  select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
    select distinct r.company_id, r.bot_id, analytics_bucket(r.started_at) as bucket
    from changed_calls r where r.company_id is not null and r.bot_id is not null) t
  order by t.company_id, t.bot_id, t.bucket
  on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null;
  return null;
end $$;
