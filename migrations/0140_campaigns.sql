-- Outbound campaigns (issue #18): campaigns, their contacts, one row per dial attempt, and the company's
-- suppression data (do-not-call list, voice consent, frequency caps and blocked prefixes).

create table campaigns (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null references bots(id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  status text not null default 'draft'
    check (status in ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed')),
  -- Null = as soon as scheduled. After ends_at no new dial starts; contacts still waiting are skipped.
  starts_at timestamptz,
  ends_at timestamptz,
  -- [{ days: [1..7], start: 'HH:MM', end: 'HH:MM' }] in each callee's local time.
  windows jsonb not null,
  max_attempts integer not null default 3 check (max_attempts between 1 and 10),
  retry_spacing_sec integer not null default 14400 check (retry_spacing_sec between 60 and 2592000),
  concurrency integer not null default 5 check (concurrency between 1 and 500),
  require_consent boolean not null default false,
  -- What a reached answering machine gets: the message after the beep, a hang-up, or the bot (no detection).
  voicemail text not null default 'hang_up' check (voicemail in ('leave_message', 'hang_up', 'ignore')),
  voicemail_message text check (length(voicemail_message) <= 1000),
  -- What the bot says when a phone's screening assistant asks who is calling and why.
  purpose text check (length(purpose) <= 300),
  -- Call outcome types (outcomes.outcome_type) that count as a conversion in the stats.
  conversion_outcomes text[] not null default '{}',
  -- Consecutive Twilio outages while dialling this campaign; new dials wait until backoff_until.
  dial_failures integer not null default 0,
  backoff_until timestamptz,
  failure_reason text,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default date_trunc('milliseconds', now()),
  updated_at timestamptz not null default now()
);
create index campaigns_company_idx on campaigns (company_id, created_at desc, id desc);
create index campaigns_active_idx on campaigns (status) where status in ('scheduled', 'running', 'paused');

create table campaign_contacts (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  campaign_id uuid not null references campaigns(id) on delete cascade,
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  name text check (length(name) <= 200),
  time_zone text check (length(time_zone) <= 64),
  variables jsonb not null default '{}',
  -- pending → dialing (claimed, leased) → live (an attempt is placed) → pending (retry) | done | exhausted;
  -- skipped (with skip_reason) from any waiting state.
  state text not null default 'pending' check (state in ('pending', 'dialing', 'live', 'done', 'skipped', 'exhausted')),
  -- Placed attempts (what max_attempts counts); dial_seq counts every attempt row, outages included.
  attempts integer not null default 0,
  dial_seq integer not null default 0,
  next_attempt_at timestamptz not null default '-infinity',
  -- The claim: only the holder of this token may turn the claim into an attempt.
  claim_token uuid,
  locked_until timestamptz,
  last_outcome text,
  skip_reason text,
  -- Why the contact waits (outside_window, daily_cap, weekly_cap, twilio_unavailable…).
  deferred_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (campaign_id, phone)
);
create index campaign_contacts_due_idx on campaign_contacts (campaign_id, next_attempt_at) where state in ('pending', 'dialing');
create index campaign_contacts_state_idx on campaign_contacts (campaign_id, state);

create table campaign_attempts (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  campaign_id uuid not null references campaigns(id) on delete cascade,
  contact_id uuid not null references campaign_contacts(id) on delete cascade,
  phone text not null,
  seq integer not null,
  call_id uuid references calls(id) on delete set null,
  -- dialing: Twilio is being asked; live: Twilio accepted; ended: outcome known.
  status text not null default 'dialing' check (status in ('dialing', 'live', 'ended')),
  -- Counts toward frequency caps and max_attempts (false only when Twilio never accepted the call).
  counted boolean not null default true,
  local_day date not null,
  dialed_at timestamptz not null,
  answered_by text,
  voicemail text check (voicemail in ('left', 'hung_up')),
  screened boolean not null default false,
  outcome text,
  ended_at timestamptz,
  -- One attempt per claim: two workers holding stale claims can never both dial the same attempt.
  unique (contact_id, seq)
);
create index campaign_attempts_caps_idx on campaign_attempts (company_id, phone, local_day) where counted;
create index campaign_attempts_open_idx on campaign_attempts (status, dialed_at) where status <> 'ended';
create index campaign_attempts_campaign_idx on campaign_attempts (campaign_id, dialed_at desc, id desc);
create unique index campaign_attempts_call_uidx on campaign_attempts (call_id) where call_id is not null;

create table dnc_numbers (
  company_id uuid not null references companies(id) on delete cascade,
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  source text not null check (source in ('api', 'csv', 'call')),
  reason text check (length(reason) <= 500),
  call_id uuid references calls(id) on delete set null,
  created_at timestamptz not null default date_trunc('milliseconds', now()),
  primary key (company_id, phone)
);

create table contact_consents (
  company_id uuid not null references companies(id) on delete cascade,
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  voice text not null check (voice in ('granted', 'denied', 'unknown')),
  source text check (length(source) <= 200),
  recorded_at timestamptz not null,
  updated_at timestamptz not null default now(),
  primary key (company_id, phone)
);

create table campaign_policies (
  company_id uuid primary key references companies(id) on delete cascade,
  max_calls_per_day integer not null default 1 check (max_calls_per_day between 1 and 50),
  max_calls_per_week integer not null default 3 check (max_calls_per_week between 1 and 200),
  blocked_prefixes text[] not null default '{}',
  updated_at timestamptz not null default now()
);
