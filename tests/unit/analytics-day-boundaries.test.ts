/**
 * Where analytics and usage cut local days (src/analytics/query.ts rangeOf): at the first instant whose local date
 * is the day — also on days whose clocks change, and where they jump over midnight itself.
 */
import { describe, expect, it } from 'vitest';
import { rangeOf } from '../../src/analytics/query.js';

const starts = (timeZone: string, from: string, to: string) => rangeOf({ from, to, timeZone }).boundaries.map((ms) => new Date(ms).toISOString());

describe('local day boundaries', () => {
  it('start at local midnight on ordinary days and on days the clocks change at night', () => {
    expect(starts('UTC', '2026-03-08', '2026-03-08')).toEqual(['2026-03-08T00:00:00.000Z', '2026-03-09T00:00:00.000Z']);
    // Berlin springs forward at 02:00 on 29 March and falls back at 03:00 on 25 October.
    expect(starts('Europe/Berlin', '2026-03-29', '2026-03-30')).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', '2026-03-30T22:00:00.000Z']);
    expect(starts('Europe/Berlin', '2026-10-25', '2026-10-26')).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z']);
    expect(starts('America/New_York', '2026-03-08', '2026-03-08')).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  });

  it('start at 01:00 where the clocks jump over midnight, and after the repeated hour where midnight comes twice', () => {
    // Santiago: 00:00 → 01:00 on 6 September 2026 (UTC-4 → UTC-3); 24:00 → 23:00 on 5 April 2026 (UTC-3 → UTC-4).
    expect(starts('America/Santiago', '2026-09-05', '2026-09-06')).toEqual(['2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
    expect(starts('America/Santiago', '2026-04-05', '2026-04-05')).toEqual(['2026-04-05T04:00:00.000Z', '2026-04-06T04:00:00.000Z']);
    // Havana: 00:00 → 01:00 on 8 March 2026 (UTC-5 → UTC-4).
    expect(starts('America/Havana', '2026-03-08', '2026-03-08')).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
  });
});
