-- Events sharing an ordering key form a line: only its oldest pending event is sent (src/webhooks/outbox.ts
-- claimDueEvents checks that no earlier pending event of the key exists). The claim walked every due event of each
-- company and made that check on each, so a line of N events waiting behind a failing first one — a campaign whose
-- receiver is down — was read in full on every poll of every instance: 130 ms per claim at N = 20,000 and 370 ms
-- at N = 100,000 on PostgreSQL (1.2 s on PGlite), for every company's webhooks.
--
-- waiting_behind marks an event with an earlier pending event on its key, and the claim walks only the events not
-- so marked. The mark is a shortcut, never the rule: the claim still makes its check on every event it takes, so an
-- event wrongly unmarked is held back all the same; what the triggers below keep true is that no event stays marked
-- once it is first in its line (else it would never be sent).
alter table webhook_events add column waiting_behind boolean not null default false;

update webhook_events e set waiting_behind = true
where e.status = 'pending' and e.ordering_key is not null and not e.out_of_band
  and exists (select 1 from webhook_events p
    where p.company_id = e.company_id and p.ordering_key = e.ordering_key and p.status = 'pending' and not p.out_of_band
      and p.seq < e.seq);

-- The claim's walk (it replaces webhook_events_company_due_idx, 0170): each company's events first in their line (or
-- in none), in due order.
create index webhook_events_claim_idx on webhook_events (company_id, next_attempt_at, seq)
  where status = 'pending' and not waiting_behind;
drop index webhook_events_company_due_idx;

-- A new event joins its key's line: it waits if an earlier event of the key is pending.
create function webhook_event_join_line() returns trigger language plpgsql as $$
begin
  new.waiting_behind := exists (select 1 from webhook_events p
    where p.company_id = new.company_id and p.ordering_key = new.ordering_key and p.status = 'pending' and not p.out_of_band
      and p.seq < new.seq);
  return new;
end $$;
create trigger webhook_events_join_line before insert on webhook_events
  for each row when (new.ordering_key is not null and new.status = 'pending' and not new.out_of_band)
  execute function webhook_event_join_line();

-- The first pending event of a key's line, if it was waiting, is now first: it is claimable, and its retry window
-- (WEBHOOK_MAX_AGE_HOURS, 0270) starts now — it was only waiting, and must not die of age before its turn.
create function webhook_line_advance(line_company uuid, line_key text) returns void language sql as $$
  update webhook_events set waiting_behind = false, window_started_at = now()
  where id = (select h.id from webhook_events h
      where h.company_id = line_company and h.ordering_key = line_key and h.status = 'pending' and not h.out_of_band
      order by h.seq limit 1)
    and waiting_behind
$$;

-- The event ahead may leave the line (settle, or be deleted) while the new event's transaction is still open, the
-- triggers below not seeing the new event yet. So at commit a waiting event looks again, with a fresh snapshot, and
-- locks the event it finds ahead FOR SHARE until the commit: one settling or being deleted right then is waited for
-- (a single short statement) and not counted; one that leaves after this waits for this commit, and its trigger then
-- sees the new event. Either way no event is left waiting with nobody ahead of it. (Inserts of one key take turns
-- under recordEvent's advisory lock, so the events ahead are committed ones or this transaction's own.) Nothing is
-- locked before the commit: a long transaction recording events of a key (a campaign's settle batch) never holds up
-- the delivery of the events ahead.
create function webhook_event_check_line() returns trigger language plpgsql as $$
begin
  perform 1 from webhook_events p
  where p.company_id = new.company_id and p.ordering_key = new.ordering_key and p.status = 'pending' and not p.out_of_band
    and p.seq < new.seq
  order by p.seq desc limit 1
  for share;
  if not found then perform webhook_line_advance(new.company_id, new.ordering_key); end if;
  return null;
end $$;
create constraint trigger webhook_events_check_line after insert on webhook_events
  deferrable initially deferred
  for each row when (new.waiting_behind) execute function webhook_event_check_line();

-- An event leaves its line when it settles (delivered, dead, skipped) or is deleted (privacy erasure, retention, its
-- company deleted): whoever is first in the line now moves up. Every path that ends a pending event goes through
-- these, whatever statement it runs.
create function webhook_event_leave_line() returns trigger language plpgsql as $$
begin
  perform webhook_line_advance(old.company_id, old.ordering_key);
  return null;
end $$;
create trigger webhook_events_leave_line after update on webhook_events
  for each row when (old.status = 'pending' and old.ordering_key is not null and not old.out_of_band
    and (new.status <> 'pending' or new.out_of_band))
  execute function webhook_event_leave_line();

-- Deletes go by statement, once per key (an erasure or a company's deletion can take thousands of a line's events).
create function webhook_events_left_lines() returns trigger language plpgsql as $$
declare
  k record;
begin
  for k in
    select distinct g.company_id, g.ordering_key from gone g
    where g.status = 'pending' and g.ordering_key is not null and not g.out_of_band
  loop
    perform webhook_line_advance(k.company_id, k.ordering_key);
  end loop;
  return null;
end $$;
create trigger webhook_events_delete_leave_lines after delete on webhook_events
  referencing old table as gone for each statement execute function webhook_events_left_lines();
