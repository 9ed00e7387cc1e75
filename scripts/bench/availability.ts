/**
 * What free-slot computation costs the event loop that carries calls, on the largest booking config the schema
 * allows: 200 services, 200 resources each offering every one, open 00:00–23:55 every day at 5-minute
 * granularity, and 2,000 bookings spread over the range. Measures computeSlots itself (no database, no HTTP):
 *  - "API page": GET /v1/bots/:id/availability over 62 days, one page (the route's default limit);
 *  - "API whole range": every slot of 62 days (what the route answered before it had pages);
 *  - "alternatives": the nearest free slots around a taken time, as a booking refused during a call computes them.
 * Prints the median and max of 15 runs of each, in ms of one thread's time.
 *   npx tsx scripts/bench/availability.ts
 */
import { computeSlots, nearestSlotsAround, type BusyInterval } from '../../src/bookings/availability.js';
import { bookingSettings, type BookingConfig } from '../../src/bookings/config-schema.js';
import { AVAILABILITY_PAGE_SLOTS } from '../../src/api/routes/bookings.js';

const DAY = 86_400_000;
const services = Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, name: `Service ${i}`, durationMin: 5 }));
const resources = Array.from({ length: 200 }, (_, i) => ({ id: `r${i}`, name: `Room ${i}`, services: services.map((s) => s.id) }));
const allDay = { open: '00:00', close: '23:55' };
const config = {
  timezone: 'Europe/London', services, resources, slotGranularityMin: 5, leadTimeMin: 0, horizonDays: 365,
  hours: { mon: allDay, tue: allDay, wed: allDay, thu: allDay, fri: allDay, sat: allDay, sun: allDay },
} as unknown as BookingConfig;
const settings = bookingSettings(config);
const now = Date.UTC(2026, 2, 1, 8);
let seed = 7;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const busy: BusyInterval[] = Array.from({ length: 2000 }, () => {
  const start = now + Math.floor(random() * 62 * 288) * 5 * 60_000;
  return { resourceId: `r${Math.floor(random() * 200)}`, start, end: start + 5 * 60_000 };
});

function measure(name: string, run: () => number): void {
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    count = run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(18)} median ${times[7]!.toFixed(1)} ms, max ${times[14]!.toFixed(1)} ms (${count} slots)`);
}

measure('API page', () => computeSlots({ settings, serviceId: 's0', from: now, to: now + 62 * DAY, busy, now, limit: AVAILABILITY_PAGE_SLOTS }).length);
measure('API whole range', () => computeSlots({ settings, serviceId: 's0', from: now, to: now + 62 * DAY, busy, now }).length);
measure('alternatives', () => nearestSlotsAround({ settings, serviceId: 's0', busy, now }, now + 20 * DAY + 7 * 60_000, 3).length);
