-- Audit log (issue #17): every change a company or the operator makes through /v1, written by one Fastify hook
-- (src/audit/hook.ts) for every successful mutating request, plus what a route adds (exports, erasures).
-- Append-only: no API changes it, and the database itself refuses UPDATE, DELETE and TRUNCATE.
-- No foreign key to companies on purpose: a deleted company's history stays (and a cascade would be a DELETE).
create table audit_log (
  id bigint generated always as identity primary key,
  company_id uuid,
  -- An API key's id, or 'admin' for the operator's token.
  actor text not null check (length(actor) between 1 and 64),
  -- "METHOD /v1/route/:param", e.g. "PATCH /v1/bots/:id".
  action text not null check (length(action) between 1 and 300),
  resource_id text check (resource_id is null or length(resource_id) <= 200),
  -- Names of the fields the request set (top level, and one level into objects: config.greeting) — never values.
  changed_fields text[] not null default '{}',
  details jsonb not null default '{}',
  status_code integer not null,
  request_id text not null,
  ip text,
  created_at timestamptz not null default date_trunc('milliseconds', now())
);
create index audit_log_company_idx on audit_log (company_id, id desc);
create index audit_log_company_action_idx on audit_log (company_id, action, id desc);

create function audit_log_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_log is append-only' using errcode = '42501';
end $$;
create trigger audit_log_no_update before update or delete on audit_log
  for each row execute function audit_log_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();
