/**
 * Free appointment slots as a pure function of (settings, busy intervals, now). Slots are laid out on the
 * business's local wall clock (opening time + k × granularity) and compared in absolute time, so DST days
 * come out right: a wall time that does not exist (spring forward) is skipped, and a slot's end is its
 * start plus the service's real duration.
 */
import { DateTime } from 'luxon';
import { WEEKDAYS, minutesOfHhmm, resourcesFor, type BookingSettings } from './config-schema.js';
import { localAt } from './local-time.js';

/** A time a resource is not free (a live booking or hold), epoch milliseconds, half-open [start, end). */
export interface BusyInterval {
  resourceId: string;
  start: number;
  end: number;
}

export interface Slot {
  start: DateTime;
  end: DateTime;
  /** Resources able to do the service and free for the whole slot, in config order; length = remaining capacity. */
  freeResourceIds: string[];
}

export interface SlotQuery {
  settings: BookingSettings;
  serviceId: string;
  /** Earliest slot start considered (epoch ms). */
  from: number;
  /** Slots start before this (epoch ms). */
  to: number;
  busy: readonly BusyInterval[];
  now: number;
  /** Stop after this many slots. */
  limit?: number;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * The window bookable at `now`: not before now + lead time, and before the same wall-clock time `horizonDays`
 * calendar days on in the business's zone. Days of 24 hours would move the end by an hour across a DST change (and,
 * near midnight, onto another day): 30 days from 10:00 on 4 March in New York end at 10:00 on 3 April, not 11:00.
 */
export function bookableWindow(settings: BookingSettings, now: number): { from: number; to: number } {
  const horizonEnd = DateTime.fromMillis(now, { zone: settings.timezone }).plus({ days: settings.horizonDays });
  return { from: now + settings.leadTimeMin * MINUTE, to: horizonEnd.toMillis() };
}

/**
 * Whether a resource is free over [start, end), for the times of one query. Per resource: its busy intervals by
 * start, and the latest end among the first i of them, so one binary search answers (the largest config has 200
 * resources and thousands of bookings: a scan of them all per slot and resource took half a second a query).
 */
function freeChecker(busy: readonly BusyInterval[]): (resourceId: string, start: number, end: number) => boolean {
  const byResource = new Map<string, { starts: number[]; maxEnds: number[] }>();
  const grouped = new Map<string, BusyInterval[]>();
  for (const b of busy) {
    const list = grouped.get(b.resourceId);
    if (list) list.push(b);
    else grouped.set(b.resourceId, [b]);
  }
  for (const [id, list] of grouped) {
    list.sort((a, b) => a.start - b.start);
    let maxEnd = Number.NEGATIVE_INFINITY;
    byResource.set(id, { starts: list.map((b) => b.start), maxEnds: list.map((b) => (maxEnd = Math.max(maxEnd, b.end))) });
  }
  return (resourceId, start, end) => {
    const r = byResource.get(resourceId);
    if (!r) return true;
    // The intervals starting before `end`: free when none of them ends after `start`.
    let lo = 0;
    let hi = r.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r.starts[mid]! < end) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 || r.maxEnds[lo - 1]! <= start;
  };
}

export function computeSlots(q: SlotQuery): Slot[] {
  const { settings } = q;
  const zone = settings.timezone;
  const service = settings.services.find((s) => s.id === q.serviceId);
  if (!service) return [];
  const resources = resourcesFor(settings, service.id);
  if (resources.length === 0) return [];
  const bookable = bookableWindow(settings, q.now);
  const earliest = Math.max(q.from, bookable.from);
  const latest = Math.min(q.to, bookable.to);
  if (earliest >= latest) return [];

  const isFree = freeChecker(q.busy);
  const slots: Slot[] = [];
  const limit = q.limit ?? Number.POSITIVE_INFINITY;
  const lastDay = DateTime.fromMillis(latest, { zone }).startOf('day');
  for (let day = DateTime.fromMillis(earliest, { zone }).startOf('day'); day <= lastDay; day = day.plus({ days: 1 })) {
    if (settings.blackoutDates.has(day.toISODate() ?? '')) continue;
    const hours = settings.hours[WEEKDAYS[day.weekday - 1]!];
    if (!hours) continue;
    const openMin = minutesOfHhmm(hours.open);
    const closeMin = minutesOfHhmm(hours.close);
    const open = localAt(day, openMin);
    const close = localAt(day, closeMin);
    const closeAt = close.toMillis();
    // Most days keep one UTC offset from open to close: their slots are the opening instant plus whole minutes.
    // A day whose clocks change in its hours places each wall time on its own (localAt).
    const steady = open.offset === close.offset && open.hour * 60 + open.minute === openMin;
    const breaks = (hours.breaks ?? []).map((b) => ({
      start: localAt(day, minutesOfHhmm(b.start)).toMillis(),
      end: localAt(day, minutesOfHhmm(b.end)).toMillis(),
    }));
    for (let m = openMin; m < closeMin; m += settings.slotGranularityMin) {
      let startMs: number;
      if (steady) {
        startMs = open.toMillis() + (m - openMin) * MINUTE;
      } else {
        const start = localAt(day, m);
        // A wall time skipped by a DST jump resolves to a later hour: not a real slot of this schedule.
        if (start.hour * 60 + start.minute !== m) continue;
        startMs = start.toMillis();
      }
      const endMs = startMs + service.durationMin * MINUTE;
      if (endMs > closeAt) break;
      if (startMs < earliest) continue;
      if (startMs >= latest) break;
      if (breaks.some((b) => b.start < endMs && b.end > startMs)) continue;
      const free = resources.filter((r) => isFree(r.id, startMs, endMs)).map((r) => r.id);
      if (free.length === 0) continue;
      slots.push({ start: DateTime.fromMillis(startMs, { zone }), end: DateTime.fromMillis(endMs, { zone }), freeResourceIds: free });
      if (slots.length >= limit) return slots;
    }
  }
  return slots;
}

/** How far either side of a target time alternatives are looked for, nearest first; then the whole week around. */
const ALTERNATIVE_SPANS_MS = [DAY, 3 * DAY];

/**
 * The `count` free slots nearest to `target` (ms), in chronological order, searching a week before to two weeks
 * after it. Narrow windows first: `count` slots within d either side are the nearest (any other is d or more
 * away), so a busy day's neighbours are found without laying out three weeks of slots — this runs while a
 * caller waits.
 */
export function nearestSlotsAround(q: Omit<SlotQuery, 'from' | 'to' | 'limit'>, target: number, count: number): Slot[] {
  for (const span of ALTERNATIVE_SPANS_MS) {
    const found = computeSlots({ ...q, from: target - span, to: target + span });
    if (found.length >= count) return nearestSlots(found, target, count);
  }
  return nearestSlots(computeSlots({ ...q, from: target - 7 * DAY, to: target + 14 * DAY }), target, count);
}

/** The `count` slots nearest in time to `target` (ms), returned in chronological order. */
export function nearestSlots(slots: readonly Slot[], target: number, count: number): Slot[] {
  return [...slots]
    .sort((a, b) => Math.abs(a.start.toMillis() - target) - Math.abs(b.start.toMillis() - target))
    .slice(0, count)
    .sort((a, b) => a.start.toMillis() - b.start.toMillis());
}
