-- Webhook outbox: one row per event a company should receive, written in the same transaction as the change
-- that caused it; a worker claims due rows (FOR UPDATE SKIP LOCKED + a lease) and records every attempt.
-- Events a company does not want (no URL, or a type outside webhook_events) are not recorded at all.

create table webhook_events (
  -- "evt_…": the webhook-id header, identical on every retry and replay so receivers can deduplicate.
  id text primary key,
  -- Insertion order: per-ordering-key delivery order and keyset pagination.
  seq bigint generated always as identity unique,
  company_id uuid not null references companies(id) on delete cascade,
  type text not null,
  -- Events sharing a key (e.g. a call id) are delivered one at a time, oldest first.
  ordering_key text,
  -- The exact JSON body that is signed and sent; stored as text so every retry sends identical bytes.
  body text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead', 'skipped')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- Lease of the worker delivering it right now; an expired lease means that worker died.
  locked_until timestamptz,
  -- Which claim holds the lease, so a worker whose lease expired cannot overwrite the newer claim's result.
  claimed_by uuid,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  -- Set by a manual replay: the retry window restarts from here.
  replayed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- Matches the claim query's ORDER BY so it walks due events in order and stops at its LIMIT.
create index webhook_events_due_idx on webhook_events (next_attempt_at, seq) where status = 'pending';
create index webhook_events_order_idx on webhook_events (company_id, ordering_key, seq) where status = 'pending';
create index webhook_events_company_idx on webhook_events (company_id, seq desc);

create table webhook_attempts (
  id bigint generated always as identity primary key,
  event_id text not null references webhook_events(id) on delete cascade,
  company_id uuid not null references companies(id) on delete cascade,
  attempt integer not null,
  url text not null,
  -- Null when no HTTP response arrived (refused, timed out, unsafe address).
  status_code integer,
  latency_ms integer not null,
  error text,
  -- The first bytes of the receiver's answer, for debugging from the API.
  response_excerpt text,
  created_at timestamptz not null default now()
);
create index webhook_attempts_event_idx on webhook_attempts (event_id, id);
