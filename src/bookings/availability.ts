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

/** The window bookable at `now`: not before now + lead time, not after now + horizon. */
export function bookableWindow(settings: BookingSettings, now: number): { from: number; to: number } {
  return { from: now + settings.leadTimeMin * MINUTE, to: now + settings.horizonDays * DAY };
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

  const busyByResource = new Map<string, BusyInterval[]>();
  for (const b of q.busy) {
    const list = busyByResource.get(b.resourceId);
    if (list) list.push(b);
    else busyByResource.set(b.resourceId, [b]);
  }
  const isFree = (resourceId: string, start: number, end: number): boolean =>
    !(busyByResource.get(resourceId) ?? []).some((b) => b.start < end && b.end > start);

  const slots: Slot[] = [];
  const limit = q.limit ?? Number.POSITIVE_INFINITY;
  const lastDay = DateTime.fromMillis(latest, { zone }).startOf('day');
  for (let day = DateTime.fromMillis(earliest, { zone }).startOf('day'); day <= lastDay; day = day.plus({ days: 1 })) {
    if (settings.blackoutDates.has(day.toISODate() ?? '')) continue;
    const hours = settings.hours[WEEKDAYS[day.weekday - 1]!];
    if (!hours) continue;
    const openMin = minutesOfHhmm(hours.open);
    const closeMin = minutesOfHhmm(hours.close);
    const closeAt = localAt(day, closeMin).toMillis();
    const breaks = (hours.breaks ?? []).map((b) => ({
      start: localAt(day, minutesOfHhmm(b.start)).toMillis(),
      end: localAt(day, minutesOfHhmm(b.end)).toMillis(),
    }));
    for (let m = openMin; m < closeMin; m += settings.slotGranularityMin) {
      const start = localAt(day, m);
      // A wall time skipped by a DST jump resolves to a later hour: not a real slot of this schedule.
      if (start.hour * 60 + start.minute !== m) continue;
      const startMs = start.toMillis();
      const endMs = startMs + service.durationMin * MINUTE;
      if (endMs > closeAt) break;
      if (startMs < earliest || startMs >= latest) continue;
      if (breaks.some((b) => b.start < endMs && b.end > startMs)) continue;
      const free = resources.filter((r) => isFree(r.id, startMs, endMs)).map((r) => r.id);
      if (free.length === 0) continue;
      slots.push({ start, end: DateTime.fromMillis(endMs, { zone }), freeResourceIds: free });
      if (slots.length >= limit) return slots;
    }
  }
  return slots;
}

/** The `count` slots nearest in time to `target` (ms), returned in chronological order. */
export function nearestSlots(slots: readonly Slot[], target: number, count: number): Slot[] {
  return [...slots]
    .sort((a, b) => Math.abs(a.start.toMillis() - target) - Math.abs(b.start.toMillis() - target))
    .slice(0, count)
    .sort((a, b) => a.start.toMillis() - b.start.toMillis());
}
