-- Numbers stored before canonicalPhone (src/util/phone.ts) was applied at every write may hold a long spelling:
-- +112025550143 for +12025550143, +4402079460000 for +442079460000. Such a bot never receives a call (Twilio
-- sends the short form), two companies can hold one number in two spellings, and erasing the short form misses
-- old calls. The rewrite needs libphonenumber (JS), so it is not done here: this migration queues one background
-- job (src/db/phone-backfill.ts) that walks phone_numbers, bots, calls, dnc_numbers and contact_consents in
-- bounded batches. Each step's
-- position is kept below, so a restart goes on where it stopped; a finished step is not walked again.
create table phone_backfill_steps (
  step text primary key,
  -- The key of the last row done (the step's keyset position); null before the first batch.
  after_key text,
  rewritten bigint not null default 0,
  conflicts bigint not null default 0,
  done_at timestamptz
);
-- In the order they must run: the holdings first (an active bot's number must be held, by foreign key).
insert into phone_backfill_steps (step) values ('phone_numbers'), ('bots'), ('calls'), ('dnc_numbers'), ('contact_consents');
insert into jobs (kind, payload, dedupe_key, max_attempts)
  values ('phone_canonical_backfill', '{}', 'phone_canonical_backfill', 1000);
