-- A call's transcript, one row per turn. It was a jsonb array on the call's row, appended to with
-- `transcript = transcript || [turn]`: each append rewrote the whole array, so a turn of a long call cost the
-- database what the whole call had said so far (2,000 turns: 110 KB of WAL for the last 0.2 KB turn, 113 MB for the
-- call; scripts/bench/transcript-append.ts). A row per turn costs the same at the first turn and the thousandth.
-- Readers put the array back together in id order (src/db/calls.ts transcriptOf).
create table call_turns (
  id bigint generated always as identity primary key,
  call_id uuid not null references calls(id) on delete cascade,
  turn jsonb not null check (jsonb_typeof(turn) = 'object')
);
create index call_turns_call_idx on call_turns (call_id, id);

insert into call_turns (call_id, turn)
  select c.id, e.value
  from calls c
  cross join lateral jsonb_array_elements(case when jsonb_typeof(c.transcript) = 'array' then c.transcript else '[]'::jsonb end)
    with ordinality e(value, n)
  where jsonb_typeof(e.value) = 'object'
  order by c.id, e.n;

-- The analytics trigger on calls watched the transcript's length (turns written after the call ended); the turns'
-- own trigger below does that now.
drop trigger calls_analytics_update on calls;
alter table calls drop column transcript;
create trigger calls_analytics_update after update on calls for each row
  when (old.status is distinct from new.status or old.ended_at is distinct from new.ended_at
    or old.duration_sec is distinct from new.duration_sec or old.answered_at is distinct from new.answered_at
    or old.end_reason is distinct from new.end_reason or old.direction is distinct from new.direction
    or old.company_id is distinct from new.company_id or old.bot_id is distinct from new.bot_id
    or old.started_at is distinct from new.started_at)
  execute function analytics_call_updated();

-- Turns written to or removed from an ended call (a session winding down, an erasure) change its bucket's counts
-- (barge-ins, answer latency). A live call's turns mark nothing: its end marks the bucket.
create function analytics_call_turns_changed() returns trigger language plpgsql as $$
begin
  perform analytics_mark(c.company_id, c.bot_id, c.started_at)
  from calls c where c.id in (select call_id from changed_turns) and c.ended_at is not null;
  return null;
end $$;
create trigger call_turns_analytics_insert after insert on call_turns referencing new table as changed_turns
  for each statement execute function analytics_call_turns_changed();
create trigger call_turns_analytics_delete after delete on call_turns referencing old table as changed_turns
  for each statement execute function analytics_call_turns_changed();
