-- A hold the caller let go before confirming it (another time chosen: held → cancelled) was counted by the analytics
-- rollup as a booking made and as a booking cancelled (src/analytics/rollup.ts counts neither now). The buckets such
-- holds touched are marked dirty, so the next rollup recomputes them.
select analytics_mark(b.company_id, b.bot_id, b.created_at), analytics_mark(b.company_id, b.bot_id, e.created_at)
from booking_events e join bookings b on b.id = e.booking_id
where e.to_status = 'cancelled' and e.from_status = 'held';
