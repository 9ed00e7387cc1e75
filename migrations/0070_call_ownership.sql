-- Each running server process is an instance with a heartbeat; a live call records the instance running it.
-- When an instance stops heartbeating (crash, kill -9, lost machine), another instance or the next start ends
-- its calls as failed with reason server_lost, with call.ended and the analysis, instead of leaving them
-- in_progress forever.
create table instances (
  id uuid primary key,
  hostname text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now()
);

alter table calls add column instance_id uuid;
create index calls_live_idx on calls (instance_id) where ended_at is null and status = 'in_progress';
