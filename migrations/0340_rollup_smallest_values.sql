-- The smallest call duration and bot response latency of each analytics bucket, beside the largest (duration_max,
-- latency_max): a percentile interpolated within a histogram bucket is held within the smallest and largest values
-- the range saw (src/analytics/buckets.ts), so one 2 s call is 2 s at every percentile, not a p95 of 5 s.
alter table call_rollup add column duration_min integer, add column latency_min integer;

-- Buckets rolled up before this have none (null: nothing is held from below there): they are marked dirty, so the
-- rollup recomputes them.
select analytics_mark(company_id, bot_id, bucket) from call_rollup where duration_count > 0 or latency_count > 0;
