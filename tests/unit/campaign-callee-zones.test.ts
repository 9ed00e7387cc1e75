/**
 * A contact without a time zone is called in its number's country's zones: every country a number can belong to
 * (libphonenumber's list) has some, so no valid number is skipped as time_zone_unknown for want of a table row.
 */
import { getCountries, getExampleNumber } from 'libphonenumber-js';
import examples from 'libphonenumber-js/examples.mobile.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { DEFAULT_WINDOWS, nextOpening, zonesFor } from '../../src/campaigns/windows.js';

describe('the zones of a callee\'s number', () => {
  it('every country a number can belong to has zones, and a weekday opening', () => {
    const without = getCountries().filter((country) => {
      const phone = getExampleNumber(country, examples)?.number;
      if (!phone) return true;
      const zones = zonesFor({ phone, time_zone: null });
      return zones.length === 0 || nextOpening(DEFAULT_WINDOWS, zones, new Date('2026-03-09T00:00:00Z')) === null;
    });
    expect(without).toEqual([]);
  });

  it('Kosovo, Ascension and Tristan da Cunha numbers are called in their own local hours', () => {
    expect(zonesFor({ phone: '+38343201234', time_zone: null })).toEqual(['Europe/Belgrade']);
    expect(zonesFor({ phone: '+2476123', time_zone: null })).toEqual(['Atlantic/St_Helena']);
  });
});
