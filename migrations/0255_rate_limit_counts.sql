-- The /v1 rate limit's counts, per company and minute, when several processes or instances share one PostgreSQL
-- (src/api/rate-limit-store.ts): each process counting alone let a company through N times the limit. Rows of past
-- windows are deleted as the store goes.
create table rate_limit_counts (
  key text not null,
  window_start timestamptz not null,
  hits integer not null,
  primary key (key, window_start)
);
