-- Deleting two bots of one company at once could fail with a deadlock (the API's 503 "retry"): each deletion moves
-- its bot's usage to no bot, and the update triggers of call_usage and ingest_usage (0420) marked usage_dirty row by
-- row, in the order each statement met its rows — so both transactions took marks of the same (company, no bot,
-- bucket) keys in different orders. Updates now mark per statement, as inserts and deletes do: both sides of every
-- row whose counted columns changed (the bucket it left and the one it is in), each key once, in key order (as 0240
-- asks), so two such statements wait for each other and never hold what the other wants.
--
-- A statement trigger cannot be limited to some columns when it reads transition tables, so it runs for every update
-- (a retention purge's setting call_id null included) and finds, by joining the old and new rows on id, that nothing
-- counted changed: it marks nothing then.
drop trigger call_usage_rollup_update on call_usage;
drop trigger ingest_usage_rollup_update on ingest_usage;
drop function usage_row_updated();
drop function usage_mark(uuid, uuid, timestamptz);

-- tg_argv[0] names the row's time column (started_at, occurred_at).
create function usage_rows_updated() returns trigger language plpgsql as $$
begin
  execute format($q$
    with moved as (
      select o.company_id as old_company, o.bot_id as old_bot, o.%1$I as old_at, n.company_id as new_company, n.bot_id as new_bot, n.%1$I as new_at
      from old_usage o join new_usage n on n.id = o.id
      where (o.company_id, o.bot_id, o.%1$I, o.kind, o.provider, o.model, o.quantity)
        is distinct from (n.company_id, n.bot_id, n.%1$I, n.kind, n.provider, n.model, n.quantity))
    insert into usage_dirty (company_id, bot_id, bucket, marked_at)
    select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
      select old_company as company_id, coalesce(old_bot, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) as bot_id, analytics_bucket(old_at) as bucket from moved
      union
      select new_company, coalesce(new_bot, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), analytics_bucket(new_at) from moved) t
    order by t.company_id, t.bot_id, t.bucket
    on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null$q$, tg_argv[0]);
  return null;
end $$;

create trigger call_usage_rollup_update after update on call_usage referencing old table as old_usage new table as new_usage
  for each statement execute function usage_rows_updated('started_at');
create trigger ingest_usage_rollup_update after update on ingest_usage referencing old table as old_usage new table as new_usage
  for each statement execute function usage_rows_updated('occurred_at');
