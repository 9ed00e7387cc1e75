-- Tenants, keys, bots, knowledge documents, calls, outcomes, and the durable job queue.
-- Deletion policy: deleting a company purges everything it owns (cascade). Bots and companies are normally
-- deactivated, not deleted, so calls keep their history.

create table companies (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  webhook_url text,
  -- Standard Webhooks signing secret (whsec_…); kept readable because it must sign.
  webhook_secret text not null,
  -- During rotation the previous secret keeps signing (both signatures sent) until it expires.
  webhook_previous_secret text,
  webhook_previous_secret_expires_at timestamptz,
  -- Event types the company wants; empty = all.
  webhook_events text[] not null default '{}',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  name text not null,
  -- The first characters of the key (e.g. "pk_3f9a1c0b"), shown in listings and used to find the row.
  prefix text not null unique,
  -- sha256 of the whole key; keys are 256-bit random so a fast hash is enough (no dictionary to attack).
  key_hash text not null,
  scopes text[] not null default '{}',
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index api_keys_company_idx on api_keys (company_id, created_at desc);

create table bots (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  phone_number text check (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  language text not null default 'en' check (language in ('en', 'ru')),
  config jsonb not null,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index bots_company_idx on bots (company_id, created_at desc);
-- A number routes to exactly one active bot; inactive bots may keep an old number.
create unique index bots_active_phone_uidx on bots (phone_number) where is_active and phone_number is not null;

create table knowledge_documents (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null references bots(id) on delete cascade,
  filename text not null,
  content_type text not null,
  size_bytes integer not null,
  sha256 text not null,
  status text not null default 'processing' check (status in ('processing', 'ready', 'error')),
  error_message text,
  chunk_count integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index knowledge_documents_bot_idx on knowledge_documents (bot_id, created_at desc);

create table calls (
  id uuid primary key default gen_random_uuid(),
  -- Null for calls to unknown numbers: recorded (failed, with a reason) but owned by no tenant.
  company_id uuid references companies(id) on delete cascade,
  bot_id uuid references bots(id) on delete cascade,
  direction text not null check (direction in ('inbound', 'outbound', 'web')),
  twilio_call_sid text unique,
  from_number text,
  to_number text,
  status text not null default 'queued'
    check (status in ('queued', 'ringing', 'in_progress', 'completed', 'failed', 'busy', 'no_answer', 'canceled')),
  -- Highest Twilio status-callback sequence applied, so late callbacks never move a call backwards.
  status_sequence integer not null default -1,
  -- Millisecond precision so keyset cursors (which travel as JS dates) are exact.
  started_at timestamptz not null default date_trunc('milliseconds', now()),
  answered_at timestamptz,
  ended_at timestamptz,
  duration_sec integer,
  -- [{ role: 'caller'|'bot'|'system', text, ts, latency?, interrupted? }], appended turn by turn.
  transcript jsonb not null default '[]',
  recording_url text,
  failure_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index calls_bot_started_idx on calls (bot_id, started_at desc);
create index calls_company_started_idx on calls (company_id, started_at desc, id desc);
create index calls_status_idx on calls (status);

create table outcomes (
  call_id uuid primary key references calls(id) on delete cascade,
  company_id uuid not null references companies(id) on delete cascade,
  outcome_type text not null,
  confidence real not null check (confidence between 0 and 1),
  summary text not null,
  extracted_data jsonb not null default '{}',
  analyzer text not null,
  webhook_sent boolean not null default false,
  webhook_sent_at timestamptz,
  webhook_response_code integer,
  created_at timestamptz not null default now()
);

-- Durable background work (knowledge ingestion, post-call analysis): a row a worker claims with
-- FOR UPDATE SKIP LOCKED and leases; a crashed worker's lease runs out and another picks the job up.
create table jobs (
  id uuid primary key default gen_random_uuid(),
  kind text not null,
  payload jsonb not null,
  -- At most one live job per key (e.g. one ingestion per document).
  dedupe_key text,
  status text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  attempts integer not null default 0,
  max_attempts integer not null default 5,
  run_at timestamptz not null default now(),
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index jobs_due_idx on jobs (kind, run_at) where status in ('queued', 'running');
create unique index jobs_dedupe_uidx on jobs (dedupe_key) where dedupe_key is not null and status in ('queued', 'running');
