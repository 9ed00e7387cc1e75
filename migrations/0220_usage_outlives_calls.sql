-- Usage is the company's bill: it outlives the calls it came from. A retention purge (or a bot's deletion) deleted
-- a call's usage with it (on delete cascade), and the telephony minutes were read from the calls themselves, so a
-- company whose retention is shorter than a month saw its month's spending fall back and its budget reopen.
-- Now a usage row keeps its call's id until the call goes (then null); its own id keeps it unique; and the
-- telephony minutes are usage rows too, written wherever a call's duration is set (the trigger below).
alter table call_usage drop constraint call_usage_pkey;
alter table call_usage add column id bigint generated always as identity primary key;
alter table call_usage alter column call_id drop not null;
alter table call_usage add constraint call_usage_call_kind_key unique (call_id, kind, provider, model);
alter table call_usage drop constraint call_usage_call_id_fkey;
alter table call_usage add constraint call_usage_call_id_fkey foreign key (call_id) references calls(id) on delete set null;
alter table call_usage drop constraint call_usage_bot_id_fkey;
alter table call_usage add constraint call_usage_bot_id_fkey foreign key (bot_id) references bots(id) on delete set null;
alter table call_usage drop constraint call_usage_kind_check;
alter table call_usage add constraint call_usage_kind_check
  check (kind in ('stt_audio_ms', 'tts_chars', 'llm_input_tokens', 'llm_cached_input_tokens', 'llm_output_tokens', 'telephony_minutes'));

-- Telephony minutes as Twilio bills them: the call's duration rounded up to whole minutes, under the call's start.
create function record_call_telephony_usage() returns trigger language plpgsql as $$
begin
  if new.company_id is null then
    return null;
  end if;
  if coalesce(new.duration_sec, 0) > 0 then
    insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
    values (new.id, new.company_id, new.bot_id, new.started_at, 'telephony_minutes',
      case when new.direction = 'web' then 'web' else 'twilio' end, new.direction, ceil(new.duration_sec / 60.0))
    on conflict (call_id, kind, provider, model) do update set quantity = excluded.quantity;
  elsif tg_op = 'UPDATE' then
    delete from call_usage where call_id = new.id and kind = 'telephony_minutes';
  end if;
  return null;
end $$;
create trigger calls_telephony_usage after insert or update of duration_sec on calls
  for each row execute function record_call_telephony_usage();

insert into call_usage (call_id, company_id, bot_id, started_at, kind, provider, model, quantity)
select id, company_id, bot_id, started_at, 'telephony_minutes', case when direction = 'web' then 'web' else 'twilio' end, direction,
  ceil(duration_sec / 60.0)
from calls where company_id is not null and duration_sec > 0
on conflict (call_id, kind, provider, model) do nothing;
