-- A replay of a settled event is out of band (0270): it does not wait for its key's live events nor hold them back.
-- But replayed events of one key had no order among themselves: a bulk replay of a call's dead call.ended and
-- call.analyzed could deliver call.analyzed first. Now the replayed (out-of-band) events of a key form a line of
-- their own beside the live one, with the same rules (0360): only its oldest pending event is sent; the others are
-- marked waiting_behind, and move up, their retry window starting then, as the one ahead settles or is deleted.

-- The first pending event of a key's live line (replays false) or replay line (true) moves up.
create function webhook_line_advance(line_company uuid, line_key text, replays boolean) returns void language sql as $$
  update webhook_events set waiting_behind = false, window_started_at = now()
  where id = (select h.id from webhook_events h
      where h.company_id = line_company and h.ordering_key = line_key and h.status = 'pending' and h.out_of_band = replays
      order by h.seq limit 1)
    and waiting_behind
$$;

-- At commit, an event marked waiting looks again for the one ahead in its own line (see 0360): a replay marking its
-- event waiting while the event ahead settles is not left waiting behind nobody.
create or replace function webhook_event_check_line() returns trigger language plpgsql as $$
begin
  perform 1 from webhook_events p
  where p.company_id = new.company_id and p.ordering_key = new.ordering_key and p.status = 'pending'
    and p.out_of_band = new.out_of_band and p.seq < new.seq
  order by p.seq desc limit 1
  for share;
  if not found then perform webhook_line_advance(new.company_id, new.ordering_key, new.out_of_band); end if;
  return null;
end $$;
-- Replays mark waiting events by update (src/webhooks/outbox.ts replayed).
create constraint trigger webhook_events_check_replay_line after update on webhook_events
  deferrable initially deferred
  for each row when (new.waiting_behind and not old.waiting_behind) execute function webhook_event_check_line();

-- An event leaves its line when it settles or is deleted: a live one also when it goes out of band (never, today:
-- only a settled event is replayed out of band).
create or replace function webhook_event_leave_line() returns trigger language plpgsql as $$
begin
  perform webhook_line_advance(old.company_id, old.ordering_key, old.out_of_band);
  return null;
end $$;
drop trigger webhook_events_leave_line on webhook_events;
create trigger webhook_events_leave_line after update on webhook_events
  for each row when (old.status = 'pending' and old.ordering_key is not null
    and (new.status <> 'pending' or new.out_of_band <> old.out_of_band))
  execute function webhook_event_leave_line();

create or replace function webhook_events_left_lines() returns trigger language plpgsql as $$
declare
  k record;
begin
  for k in
    select distinct g.company_id, g.ordering_key, g.out_of_band from gone g
    where g.status = 'pending' and g.ordering_key is not null
  loop
    perform webhook_line_advance(k.company_id, k.ordering_key, k.out_of_band);
  end loop;
  return null;
end $$;

drop function webhook_line_advance(uuid, text);
