-- New work announces itself on the channel parley_work (src/db/work-notifications.ts): PostgreSQL delivers a
-- notification when its transaction commits, to every instance listening, so an idle worker need not poll the
-- database every half second to start a job or send an event at once. Whatever inserts or re-queues the row — the
-- call lifecycle, the API, a retry, a replay — the trigger announces it. The payload names the worker; identical
-- payloads in one transaction are delivered once. Embedded PGlite has no listeners over its socket: these are
-- no-ops there, and its workers keep polling.
create function announce_job() returns trigger language plpgsql as $$
begin
  perform pg_notify('parley_work', 'job:' || new.kind);
  return null;
end $$;
create trigger jobs_announce after insert or update of status on jobs
  for each row when (new.status = 'queued') execute function announce_job();

create function announce_work() returns trigger language plpgsql as $$
begin
  perform pg_notify('parley_work', tg_argv[0]);
  return null;
end $$;
create trigger webhook_events_announce after insert or update of status on webhook_events
  for each row when (new.status = 'pending') execute function announce_work('webhooks');
create trigger campaigns_announce after insert or update of status on campaigns
  for each statement execute function announce_work('campaigns');
create trigger campaign_contacts_announce after insert on campaign_contacts
  for each statement execute function announce_work('campaigns');
-- An outbound call's end settles its campaign attempt and frees a slot for the next dial.
create trigger calls_outbound_end_announce after update of ended_at on calls
  for each row when (new.direction = 'outbound' and old.ended_at is null and new.ended_at is not null)
  execute function announce_work('campaigns');
