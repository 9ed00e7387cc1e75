-- Bots saved before booking.timezone was stored in its canonical spelling (src/util/time-zone.ts) may hold the zone
-- as typed ("europe/london", "US/Eastern") and show it so until re-saved. The canonical spelling needs the zone list
-- of the server's ICU and the tz database (JS), so it is not done here: this migration queues one background job
-- (src/db/zone-backfill.ts) that walks the bots in batches. Idempotent: a retry rewrites nothing twice.
insert into jobs (kind, payload, dedupe_key, max_attempts)
  values ('booking_zone_canonical_backfill', '{}', 'booking_zone_canonical_backfill', 100);
