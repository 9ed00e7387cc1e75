-- Bookings and holds, with the database itself refusing a double booking.
--
-- A hold is a booking row with status 'held' and hold_expires_at, so the exclusion constraint below covers
-- holds and bookings alike. A constraint cannot look at now(), so an expired hold keeps blocking until it is
-- marked 'expired': the booking code does that for the company right before every insert or move, in the
-- same transaction, and the lead's periodic cleanup (expireStaleHolds) does it for everyone.
--
-- Resource ids come from the bot's booking config and are company-wide: two bots of one company that name
-- the same resource share its calendar.
create extension if not exists btree_gist;

create table bookings (
  id uuid primary key default gen_random_uuid(),
  company_id uuid not null references companies(id) on delete cascade,
  bot_id uuid not null references bots(id) on delete cascade,
  call_id uuid references calls(id) on delete set null,
  service_id text not null,
  service_name text not null,
  resource_id text not null,
  resource_name text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  status text not null
    check (status in ('held', 'pending', 'confirmed', 'in_progress', 'completed', 'cancelled', 'expired')),
  hold_expires_at timestamptz,
  customer_name text check (customer_name is null or length(customer_name) between 1 and 200),
  -- E.164, normalised by the application (libphonenumber-js).
  customer_phone text check (customer_phone is null or customer_phone ~ '^\+[1-9][0-9]{6,14}$'),
  price numeric(12, 2),
  currency text check (currency is null or currency ~ '^[A-Z]{3}$'),
  notes text check (notes is null or length(notes) <= 2000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (ends_at > starts_at),
  check ((status = 'held') = (hold_expires_at is not null) or status = 'expired'),
  constraint bookings_no_overlap exclude using gist (
    company_id with =,
    resource_id with =,
    tstzrange(starts_at, ends_at, '[)') with &&
  ) where (status in ('held', 'pending', 'confirmed', 'in_progress'))
);
create index bookings_company_created_idx on bookings (company_id, created_at desc, id desc);
create index bookings_company_starts_idx on bookings (company_id, starts_at);
create index bookings_phone_idx on bookings (company_id, customer_phone, starts_at) where customer_phone is not null;
create index bookings_held_idx on bookings (hold_expires_at) where status = 'held';
create index bookings_call_idx on bookings (call_id) where call_id is not null;

-- Who moved a booking, from what to what, and why.
create table booking_events (
  id bigint generated always as identity primary key,
  booking_id uuid not null references bookings(id) on delete cascade,
  company_id uuid not null references companies(id) on delete cascade,
  from_status text,
  to_status text not null,
  actor text not null check (actor in ('caller', 'api', 'system')),
  reason text,
  -- e.g. the old and new times of a reschedule.
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index booking_events_booking_idx on booking_events (booking_id, id);
