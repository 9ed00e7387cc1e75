-- One erasure of a phone number (DELETE /v1/privacy/phone-numbers/{number}, src/privacy/erase.ts), readable by
-- the company (GET /v1/privacy/erasures/{id}) until it has completed and after. The request erases what the number's
-- own rows reach at once; the sweep of every outcome and webhook event body of the company for the number runs in
-- short batches (keyset on outcomes.call_id, then webhook_events.seq), in the request while it is short and in a
-- background job after. `phones` holds the number's forms only while the sweep needs them: cleared when it ends.
create table privacy_erasures (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  status text not null default 'in_progress' check (status in ('in_progress', 'completed', 'failed')),
  phones text[] check (phones is null or status = 'in_progress'),
  -- What was changed so far (the response's counts).
  counts jsonb not null,
  -- Where the sweep stands: the table it walks and the last key it has done (null: from the start).
  sweep_table text not null default 'outcomes' check (sweep_table in ('outcomes', 'webhook_events', 'done')),
  sweep_after text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
create index privacy_erasures_company_idx on privacy_erasures (company_id, created_at desc);

-- The sweep's keyset walk of one company's outcomes (webhook_events has (company_id, seq desc)).
create index outcomes_company_call_idx on outcomes (company_id, call_id);
-- The number's own rows, found by index whatever the company's size: contacts and attempts by phone across the
-- company's campaigns (calls have calls_company_from_idx / _to_idx, consents and DNC entries their primary keys).
create index campaign_contacts_company_phone_idx on campaign_contacts (company_id, phone);
create index campaign_attempts_company_phone_idx on campaign_attempts (company_id, phone);
