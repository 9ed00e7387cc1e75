-- Phone number ownership (issue #12): a number belongs to one company until it is released (by the operator
-- through the admin API, or by the company itself). Before this, the only rule was "one ACTIVE bot per number",
-- so a company could take over a number another company had merely paused, with its callers and transcripts.
--
-- The database is the source of truth: an active bot's (number, company) must be a row here, enforced by a
-- foreign key, so no code path (API, script, a forgotten check) can route a number to a company that does not
-- hold it, and two companies racing to claim a free number end with exactly one holder (primary key).
--
-- Also here (same release): the read scopes keys:read and settings:read are added; existing keys that could
-- write keys or settings keep the reads they had.

create table phone_numbers (
  number text primary key check (number ~ '^\+[1-9][0-9]{6,14}$'),
  -- Null = released: free for any company to claim. Deleting a company frees its numbers.
  company_id uuid references companies(id) on delete cascade,
  claimed_at timestamptz,
  released_at timestamptz,
  -- What the bots foreign key points at.
  unique (number, company_id),
  check ((company_id is null) = (claimed_at is null))
);
create index phone_numbers_company_idx on phone_numbers (company_id, number) where company_id is not null;

-- Backfill: each number in use goes to the company of its active bot, else to the company of the bot that
-- used it last. Inactive bots of other companies keep their old number as history but cannot reactivate on it.
insert into phone_numbers (number, company_id, claimed_at)
select distinct on (b.phone_number) b.phone_number, b.company_id,
  (select min(o.created_at) from bots o where o.phone_number = b.phone_number and o.company_id = b.company_id)
from bots b
where b.phone_number is not null
order by b.phone_number, b.is_active desc, b.updated_at desc, b.created_at desc;

-- The number a bot answers: its number while active, else null (inactive bots may keep an old number).
alter table bots add column active_phone_number text generated always as (case when is_active then phone_number end) stored;
alter table bots add constraint bots_number_held_fkey
  foreign key (active_phone_number, company_id) references phone_numbers (number, company_id);
create index bots_active_phone_company_idx on bots (active_phone_number, company_id) where active_phone_number is not null;

update api_keys set scopes = array_append(scopes, 'keys:read')
  where 'keys:write' = any(scopes) and not ('keys:read' = any(scopes));
update api_keys set scopes = array_append(scopes, 'settings:read')
  where 'settings:write' = any(scopes) and not ('settings:read' = any(scopes));
