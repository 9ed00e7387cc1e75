-- An outcome's trigger (0330) updated campaign_attempts for every outcome written, whether its call was a
-- campaign's or not, and every UPDATE of campaign_attempts runs its statement triggers (0330's deltas), even one that
-- changes no row: ~150 µs an outcome. Writing 200,000 outcomes of calls no campaign made took 61 s on PostgreSQL
-- (4 s without). Now the attempt is updated only where the call is an attempt's (campaign_attempts_call_uidx).
create or replace function campaign_attempt_outcome_changed() returns trigger language plpgsql as $$
begin
  if (tg_op = 'DELETE' or (tg_op = 'UPDATE' and old.call_id is distinct from new.call_id))
    and exists (select 1 from campaign_attempts where call_id = old.call_id) then
    update campaign_attempts set call_outcome_type = null
    where call_id = old.call_id and company_id = old.company_id and call_outcome_type is not null;
  end if;
  if tg_op <> 'DELETE' and exists (select 1 from campaign_attempts where call_id = new.call_id) then
    update campaign_attempts set call_outcome_type = new.outcome_type
    where call_id = new.call_id and company_id = new.company_id and call_outcome_type is distinct from new.outcome_type;
  end if;
  return null;
end $$;
