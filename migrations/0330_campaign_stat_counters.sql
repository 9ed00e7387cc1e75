-- Campaign statistics (GET /v1/campaigns/:id) from counters the database keeps, not a count of every contact and
-- attempt of the campaign on each read (179–270 ms at 1,000,000 contacts, past the 5 s query deadline near 10M).
--
-- How they stay exact: statement-level triggers with transition tables on campaign_contacts and campaign_attempts
-- turn every statement — imports, claims, dials, settles, skip batches, erasure, cascaded deletes, whichever code
-- path runs it — into per-(campaign, kind, label) deltas: +1 for each row as it is after the statement, −1 for
-- each as it was, summed, zeros dropped (a claim that changes no counted column writes nothing).
--
-- Why an insert-only table of deltas: many workers change one campaign's contacts at once (claims under SKIP
-- LOCKED, dials, settles on several instances). A counter row per campaign updated in each of those transactions
-- would make each wait for the previous one's commit; inserts never wait on each other, and never deadlock.
-- A read sums the campaign's folded totals and the deltas not yet folded, in one statement (one snapshot: a fold
-- that deletes deltas and adds them to the totals commits as one, so a read sees it whole or not at all). The
-- fold (src/campaigns/stats.ts, a poller of the workers) keeps the unfolded deltas to a few seconds' worth.
--
-- Keys: ('contacts', '') every contact; ('state', <state>); ('skipped', <skip_reason or 'unknown'>) for skipped
-- contacts; ('dialled', '') counted attempts; ('answered', ''), ('voicemail', '') messages left; ('outcome',
-- <outcome>); ('call_outcome', <outcome_type>) attempts whose call has an analysed outcome of that type — the
-- campaign's conversions are those whose type is in its conversion_outcomes, summed on read, so the counters
-- hold whatever the list says.

-- No writer may change the counted tables until the counters are in place and backfilled (below): a row written
-- between the backfill's read and the triggers' creation would be counted by neither.
lock table campaign_contacts, campaign_attempts, outcomes in share row exclusive mode;

create table campaign_stat_totals (
  campaign_id uuid not null references campaigns(id) on delete cascade,
  company_id uuid not null,
  kind text not null,
  label text not null,
  n bigint not null,
  primary key (campaign_id, kind, label)
);

-- No foreign key: checking one would take a key-share lock on the campaign's row, which claims hold FOR UPDATE.
-- Deltas of a campaign deleted meanwhile are dropped by the fold.
create table campaign_stat_deltas (
  id bigint generated always as identity primary key,
  campaign_id uuid not null,
  company_id uuid not null,
  kind text not null,
  label text not null,
  n integer not null
);
create index campaign_stat_deltas_campaign_idx on campaign_stat_deltas (campaign_id);

-- The analysed outcome type of the attempt's call, kept here by the triggers on outcomes below, so the attempt's
-- keys come from its own row: an analysis written after the attempt ended (or written again) updates the attempt,
-- and that update is counted like any other. A call deleted (retention) sets call_id null, and the attempt no
-- longer counts toward its call's outcome type, as the join it replaces did.
alter table campaign_attempts add column call_outcome_type text;
update campaign_attempts a set call_outcome_type = o.outcome_type
  from outcomes o where o.call_id = a.call_id and o.company_id = a.company_id;

create function campaign_contact_stat_keys(state text, skip_reason text) returns table (kind text, label text)
  language sql immutable parallel safe
  as $$
    select k.kind, k.label from (values
      ('contacts', ''),
      ('state', state),
      ('skipped', case when state = 'skipped' then coalesce(skip_reason, 'unknown') end)) k (kind, label)
    where k.label is not null
  $$;

create function campaign_attempt_stat_keys(counted boolean, outcome text, voicemail text, call_id uuid, call_outcome_type text)
  returns table (kind text, label text)
  language sql immutable parallel safe
  as $$
    select k.kind, k.label from (values
      ('dialled', case when counted then '' end),
      ('answered', case when outcome in ('answered', 'screened') then '' end),
      -- Messages left: a machine hung up on (voicemail 'hung_up') left nothing.
      ('voicemail', case when voicemail = 'left' then '' end),
      ('outcome', outcome),
      ('call_outcome', case when call_id is not null then call_outcome_type end)) k (kind, label)
    where k.label is not null
  $$;

-- One function for both tables and every event: TG_ARGV[0] is the keys of a row `r` of the table. The source is
-- the statement's transition tables, signed; an INSERT trigger has no old table (nor a DELETE a new one), so the
-- query names only those the event has.
create function campaign_stats_changed() returns trigger language plpgsql as $$
declare
  signed text := case tg_op
    when 'INSERT' then 'select t.*, 1 as d from new_rows t'
    when 'DELETE' then 'select t.*, -1 as d from old_rows t'
    else 'select t.*, 1 as d from new_rows t union all select t.*, -1 as d from old_rows t' end;
begin
  execute format(
    'insert into campaign_stat_deltas (campaign_id, company_id, kind, label, n)
     select r.campaign_id, r.company_id, k.kind, k.label, sum(r.d) from (%s) r cross join lateral %s k
     group by 1, 2, 3, 4 having sum(r.d) <> 0', signed, tg_argv[0]);
  return null;
end $$;

create trigger campaign_contacts_stats_insert after insert on campaign_contacts referencing new table as new_rows
  for each statement execute function campaign_stats_changed('campaign_contact_stat_keys(r.state, r.skip_reason)');
create trigger campaign_contacts_stats_update after update on campaign_contacts referencing old table as old_rows new table as new_rows
  for each statement execute function campaign_stats_changed('campaign_contact_stat_keys(r.state, r.skip_reason)');
create trigger campaign_contacts_stats_delete after delete on campaign_contacts referencing old table as old_rows
  for each statement execute function campaign_stats_changed('campaign_contact_stat_keys(r.state, r.skip_reason)');

create trigger campaign_attempts_stats_insert after insert on campaign_attempts referencing new table as new_rows
  for each statement execute function campaign_stats_changed('campaign_attempt_stat_keys(r.counted, r.outcome, r.voicemail, r.call_id, r.call_outcome_type)');
create trigger campaign_attempts_stats_update after update on campaign_attempts referencing old table as old_rows new table as new_rows
  for each statement execute function campaign_stats_changed('campaign_attempt_stat_keys(r.counted, r.outcome, r.voicemail, r.call_id, r.call_outcome_type)');
create trigger campaign_attempts_stats_delete after delete on campaign_attempts referencing old table as old_rows
  for each statement execute function campaign_stats_changed('campaign_attempt_stat_keys(r.counted, r.outcome, r.voicemail, r.call_id, r.call_outcome_type)');

-- An attempt takes its call's outcome type when it is made or pointed at another call (in practice: never an
-- outcome yet, the call is new in the attempt's transaction; and call_id set null when the call is deleted).
create function campaign_attempt_call_outcome() returns trigger language plpgsql as $$
begin
  new.call_outcome_type := (select o.outcome_type from outcomes o where o.call_id = new.call_id and o.company_id = new.company_id);
  return new;
end $$;
create trigger campaign_attempts_call_outcome before insert or update of call_id on campaign_attempts
  for each row execute function campaign_attempt_call_outcome();

-- An outcome written, rewritten or deleted: the attempt of its call (if the call is a campaign's) takes the type.
create function campaign_attempt_outcome_changed() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE' or (tg_op = 'UPDATE' and old.call_id is distinct from new.call_id) then
    update campaign_attempts set call_outcome_type = null
    where call_id = old.call_id and company_id = old.company_id and call_outcome_type is not null;
  end if;
  if tg_op <> 'DELETE' then
    update campaign_attempts set call_outcome_type = new.outcome_type
    where call_id = new.call_id and company_id = new.company_id and call_outcome_type is distinct from new.outcome_type;
  end if;
  return null;
end $$;
create trigger outcomes_campaign_attempt after insert or delete or update of outcome_type, call_id on outcomes
  for each row execute function campaign_attempt_outcome_changed();

-- Every existing campaign's counters, from its rows as they are (the tables are locked above).
insert into campaign_stat_totals (campaign_id, company_id, kind, label, n)
select c.campaign_id, c.company_id, k.kind, k.label, count(*)
from campaign_contacts c cross join lateral campaign_contact_stat_keys(c.state, c.skip_reason) k
group by 1, 2, 3, 4;
insert into campaign_stat_totals (campaign_id, company_id, kind, label, n)
select a.campaign_id, a.company_id, k.kind, k.label, count(*)
from campaign_attempts a cross join lateral campaign_attempt_stat_keys(a.counted, a.outcome, a.voicemail, a.call_id, a.call_outcome_type) k
group by 1, 2, 3, 4;
