-- A call answering-machine detection found a machine on (end reason voicemail_left, voicemail_hung_up or fax: 0370,
-- src/call/machine-answer.ts) was counted by the analytics rollup as answered and completed, its billed seconds in the
-- talk time: a campaign's voicemails raised its answer rate and dragged its average talk down. The rollup counts
-- them apart now (src/analytics/rollup.ts): st_machine (ended, whatever status Twilio gave: the statuses still add up
-- to the calls) and machine answers by how they ended; answered, st_completed and the durations are a person's.
alter table call_rollup
  add column st_machine integer not null default 0,
  add column machine_voicemail_left integer not null default 0,
  add column machine_voicemail_hung_up integer not null default 0,
  add column machine_fax integer not null default 0;
alter table call_rollup_cum
  add column st_machine bigint not null default 0,
  add column machine_voicemail_left bigint not null default 0,
  add column machine_voicemail_hung_up bigint not null default 0,
  add column machine_fax bigint not null default 0;

-- Detection's verdict on a live call (machine_end_reason, set at the answer URL) moves it from answered to a machine's
-- answer before it ends: the bucket is marked then too.
drop trigger calls_analytics_update on calls;
create trigger calls_analytics_update after update on calls for each row
  when (old.status is distinct from new.status or old.ended_at is distinct from new.ended_at
    or old.duration_sec is distinct from new.duration_sec or old.answered_at is distinct from new.answered_at
    or old.end_reason is distinct from new.end_reason or old.machine_end_reason is distinct from new.machine_end_reason
    or old.direction is distinct from new.direction
    or old.company_id is distinct from new.company_id or old.bot_id is distinct from new.bot_id
    or old.started_at is distinct from new.started_at)
  execute function analytics_call_updated();

-- Buckets rolled up before this counted their machines' answers as answered: they are marked dirty (in key order, as
-- 0240 asks), so the rollup recomputes them — the worker, or GET /v1/analytics for its company first.
insert into analytics_dirty (company_id, bot_id, bucket, marked_at)
select t.company_id, t.bot_id, t.bucket, clock_timestamp() from (
  select distinct company_id, bot_id, analytics_bucket(started_at) as bucket from calls
  where company_id is not null and bot_id is not null
    and lower(trim(split_part(coalesce(end_reason, machine_end_reason), ':', 1))) in ('voicemail_left', 'voicemail_hung_up', 'fax')) t
order by t.company_id, t.bot_id, t.bucket
on conflict (company_id, bot_id, bucket) do update set marked_at = excluded.marked_at, locked_until = null;
