import { DateTime } from 'luxon';

/**
 * A wall-clock time of one day, in the day's own zone: the one way opening hours, slots and spoken times are put on
 * the time line, so they agree where a DST change makes a wall time ambiguous (01:30 comes twice on a fall-back
 * night) or skips it. `minutes` ≥ 1440 is the next midnight (a close at 24:00).
 */
export function localAt(day: DateTime, minutes: number): DateTime {
  if (minutes >= 1440) return day.plus({ days: 1 }).startOf('day');
  return DateTime.fromObject(
    { year: day.year, month: day.month, day: day.day, hour: Math.floor(minutes / 60), minute: minutes % 60 },
    { zone: day.zone },
  );
}
