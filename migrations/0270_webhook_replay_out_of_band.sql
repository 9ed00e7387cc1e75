-- Per (company, ordering key) only the oldest pending event is sent (src/webhooks/outbox.ts claimDueEvents). Two
-- things made that rule lose events:
-- * A replay kept the event's old seq, so it held back every later pending event of its key (a whole campaign or
--   booking). A replay of an event that had settled is now out_of_band: a re-send of what the receiver already had
--   or gave up on, outside its key's line, neither waiting for nor holding back the key's live events.
-- * An event waiting behind another aged all the while, and died of age without an attempt once it was its turn.
--   Its retry window (WEBHOOK_MAX_AGE_HOURS) now runs from window_started_at: its creation, its replay, or the
--   moment the event ahead of it on its key settled.
alter table webhook_events add column out_of_band boolean not null default false;
alter table webhook_events add column window_started_at timestamptz not null default now();

update webhook_events set window_started_at = coalesce(replayed_at, created_at) where status = 'pending';
-- Replays still pending from before: out of band, so the live events behind them go.
update webhook_events set out_of_band = true where replayed_at is not null and status = 'pending';
