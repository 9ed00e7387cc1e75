-- A replay starts an event's retry schedule over (about 5 s, 10 s, 20 s …), not only its age window: the backoff
-- counts the attempts since the replay, attempts - attempts_before_replay. `attempts` itself stays the count of every
-- attempt, earlier ones too (attempt_count in GET /v1/webhooks/deliveries, next to each recorded attempt).
alter table webhook_events add column attempts_before_replay integer not null default 0;

-- Events replayed before this migration and still pending: the attempts recorded before their replay.
update webhook_events e set attempts_before_replay = (
  select coalesce(max(a.attempt), 0) from webhook_attempts a where a.event_id = e.id and a.created_at < e.replayed_at)
where e.replayed_at is not null and e.status = 'pending';
