-- Running a voice business (issue #17, last part): call recordings, a monthly budget per company, and the usage
-- of knowledge ingestion (embedding tokens).

-- Recordings. Twilio calls: Twilio records (dual channel) and reports the recording through a status callback;
-- recording_url (0001) keeps Twilio's RecordingUrl, recording_sid its SID. Web calls: Parley writes a WAV
-- (caller left, bot right) into its RecordingStore under recording_key. One of recording_sid / recording_key is set
-- once a call has a recording (src/recordings/repo.ts).
alter table calls
  add column recording_sid text check (recording_sid is null or recording_sid ~ '^RE[0-9a-fA-F]{32}$'),
  add column recording_key text check (recording_key is null or length(recording_key) between 1 and 300),
  add column recording_duration_sec integer check (recording_duration_sec is null or recording_duration_sec >= 0),
  add column recording_channels smallint check (recording_channels is null or recording_channels in (1, 2));

-- Recordings whose call went (retention purge) or was erased: deleted from the store / Twilio after the
-- transaction that removed their reference commits, retried until it succeeds (src/recordings/deletions.ts).
-- The row holds no personal data: a storage key or a Twilio SID.
create table recording_deletions (
  id bigint generated always as identity primary key,
  company_id uuid references companies(id) on delete set null,
  recording_key text,
  recording_sid text,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now(),
  check (recording_key is not null or recording_sid is not null)
);
create index recording_deletions_due_idx on recording_deletions (next_attempt_at);

-- Monthly budget, in the server's PRICE_CURRENCY: once the month's cost (UTC months, from the usage records at
-- the configured prices) reaches it, new calls are refused (src/usage/budget.ts). Null = no budget.
alter table companies add column monthly_budget numeric(14, 2) check (monthly_budget is null or monthly_budget >= 0);

-- Usage outside calls: embedding tokens of knowledge ingestion, one row per ingested document version
-- (written in the transaction that makes the document ready, so a job that runs twice counts once).
create table ingest_usage (
  id bigint generated always as identity primary key,
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid references bots(id) on delete set null,
  -- The document may be deleted later; its cost stays.
  document_id uuid,
  occurred_at timestamptz not null default now(),
  kind text not null check (kind in ('embedding_tokens')),
  provider text not null check (length(provider) between 1 and 64),
  model text not null default '' check (length(model) <= 200),
  quantity bigint not null check (quantity >= 0)
);
create index ingest_usage_company_occurred_idx on ingest_usage (company_id, occurred_at);
create index ingest_usage_bot_occurred_idx on ingest_usage (bot_id, occurred_at);
