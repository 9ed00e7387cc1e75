-- A call whose media started (a session may run it, on any instance) announces its end on parley_call_ended:
-- "<call id> <end reason code>" (src/telephony/call-end-notices.ts). Whoever ended the row — Twilio's final status
-- callback on another instance, the sweep, the session itself — the instance running the session hears it on
-- commit and ends the session (its STT, LLM and TTS streams) instead of talking on until the media socket closes.
create function announce_call_end() returns trigger language plpgsql as $$
begin
  perform pg_notify('parley_call_ended', new.id::text || ' ' || split_part(coalesce(new.end_reason, ''), ':', 1));
  return null;
end $$;
create trigger calls_end_announce after update of ended_at on calls
  for each row when (old.ended_at is null and new.ended_at is not null and new.media_started_at is not null)
  execute function announce_call_end();
