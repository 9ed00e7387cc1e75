-- Web-call tokens: what a company's web page holds instead of its API key. Short-lived and single use; the
-- claim is one atomic UPDATE, so a token opens at most one socket even across several server instances.
-- Only a SHA-256 hash of the token is stored.

create table web_call_tokens (
  token_hash text primary key,
  call_id uuid not null unique references calls(id) on delete cascade,
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null references bots(id) on delete cascade,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

create index web_call_tokens_expires_idx on web_call_tokens (expires_at) where used_at is null;
