/**
 * A contact without a time zone is called in its NUMBER's local hours where the number tells them (libphonenumber's
 * number → time zones mapper: area codes, exchanges), not only when every zone of its country is open. Where the
 * number's prefix spans several zones, or the number is not tied to a place (a Russian or Australian mobile, a
 * toll-free number), the safe rule stays: open in all of them.
 */
import { describe, expect, it } from 'vitest';
import { COUNTRY_ZONES } from '../../src/util/country-zones.js';
import { DEFAULT_WINDOWS, inWindow, nextOpening, zonesFor } from '../../src/campaigns/windows.js';

const zones = (phone: string): readonly string[] => zonesFor({ phone, time_zone: null });

describe('the zones of a number without a time zone', () => {
  it('a US number is in its area code\'s zone: New York 212, Los Angeles 213, Honolulu 808', () => {
    expect(zones('+12125550101')).toEqual(['America/New_York']);
    expect(zones('+12135550101')).toEqual(['America/Los_Angeles']);
    expect(zones('+18085550101')).toEqual(['Pacific/Honolulu']);
  });

  it('a Canadian number is in its area code\'s zone: Toronto 416, Vancouver 604; Newfoundland and Labrador 709 both', () => {
    expect(zones('+14165550101')).toEqual(['America/Toronto']);
    expect(zones('+16045550101')).toEqual(['America/Vancouver']);
    expect(zones('+17095550101')).toEqual(['America/Puerto_Rico', 'America/St_Johns']);
  });

  it('+1 867: Iqaluit in Eastern time, Whitehorse in Yukon\'s (UTC-7 all year), an unlisted exchange in all three territories\' zones', () => {
    expect(zones('+18679795555')).toEqual(['America/Toronto']);
    expect(zones('+18676675555')).toEqual(['America/Whitehorse']);
    // libphonenumber says America/Fort_Nelson (UTC-7) for every exchange it does not list, Nunavut's too.
    expect(zones('+18672225555')).toEqual(['America/Cambridge_Bay', 'America/Edmonton', 'America/Inuvik', 'America/Iqaluit', 'America/Rankin_Inlet', 'America/Whitehorse']);
  });

  it('a Russian landline is in its region\'s zone: Moscow 495, Vladivostok 423', () => {
    expect(zones('+74951234567')).toEqual(['Europe/Moscow']);
    expect(zones('+74232123456')).toEqual(['Asia/Vladivostok']);
  });

  it('Saratov (+7 845) is in its own zone (UTC+4), where libphonenumber still says Moscow', () => {
    expect(zones('+78452123456')).toEqual(['Europe/Saratov']);
  });

  it('an Australian landline is in its area\'s zones: Sydney 02, Perth 08 (an area shared with Adelaide: both)', () => {
    expect(zones('+61292345678')).toEqual(['Australia/Sydney']);
    expect(zones('+61892345678')).toEqual(['Australia/Adelaide', 'Australia/Perth']);
  });

  it('a number not tied to a place keeps every zone of its country: mobiles in Russia and Australia, US toll-free', () => {
    // libphonenumber's table maps +7 9… to Moscow and +61 4… to Sydney; its mapper ignores them for mobiles, so must we.
    expect(zones('+79141234567')).toEqual(COUNTRY_ZONES.RU);
    expect(zones('+61412345678')).toEqual(COUNTRY_ZONES.AU);
    expect(zones('+18005550101')).toEqual(COUNTRY_ZONES.US);
  });

  it('a number of a one-zone country, and a contact\'s own time zone, are as before', () => {
    expect(zones('+442079460000')).toEqual(['Europe/London']);
    expect(zonesFor({ phone: '+12125550101', time_zone: 'Asia/Tokyo' })).toEqual(['Asia/Tokyo']);
  });

  it('under 09:00–20:00 a New York number is called at 10:00 New York time, a Honolulu one at its own 09:00', () => {
    // Monday 9 March 2026, 14:00 UTC = 10:00 in New York (EDT) = 04:00 in Honolulu.
    const at = new Date('2026-03-09T14:00:00Z');
    expect(inWindow(DEFAULT_WINDOWS, zones('+12125550101'), at)).toBe(true);
    expect(inWindow(DEFAULT_WINDOWS, zones('+18085550101'), at)).toBe(false);
    expect(nextOpening(DEFAULT_WINDOWS, zones('+18085550101'), at)!.toISOString()).toBe('2026-03-09T19:00:00.000Z');
    // Before, the New York number waited for Hawaii's 09:00 (15:00 in New York).
    expect(nextOpening(DEFAULT_WINDOWS, COUNTRY_ZONES.US!, at)!.toISOString()).toBe('2026-03-09T19:00:00.000Z');
  });

  it('a Moscow landline is called in Moscow hours, though 09:00–18:00 is never open in all of Russia at once', () => {
    const w = [{ days: [1, 2, 3, 4, 5, 6, 7], start: '09:00', end: '18:00' }];
    const from = new Date('2026-03-09T12:00:00Z'); // 15:00 in Moscow, 23:00 in Vladivostok
    expect(inWindow(w, zones('+74951234567'), from)).toBe(true);
    expect(nextOpening(w, zones('+74232123456'), from)!.toISOString()).toBe('2026-03-09T23:00:00.000Z');
    expect(nextOpening(w, zones('+79141234567'), from)).toBeNull();
  });
});
