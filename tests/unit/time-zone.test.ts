import { IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { isValidZone, zonesFor } from '../../src/campaigns/windows.js';
import { COUNTRY_ZONES } from '../../src/util/country-zones.js';
import { PREFIXES_BY_ZONES } from '../../src/util/number-zones-data.js';
import { canonicalZone } from '../../src/util/time-zone.js';

describe('canonicalZone', () => {
  it('spells a zone as the tz database does, whatever its case', () => {
    expect(canonicalZone('utc')).toBe('UTC');
    expect(canonicalZone('Europe/berlin')).toBe('Europe/Berlin');
    expect(canonicalZone('america/port-au-prince')).toBe('America/Port-au-Prince');
    expect(canonicalZone('antarctica/dumontdurville')).toBe('Antarctica/DumontDUrville');
    expect(canonicalZone('etc/gmt+5')).toBe('Etc/GMT+5');
  });
  it("keeps today's names (ICU would answer Asia/Calcutta, Europe/Kiev), and names a link's zone", () => {
    expect(canonicalZone('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(canonicalZone('europe/kyiv')).toBe('Europe/Kyiv');
    expect(canonicalZone('Asia/Kathmandu')).toBe('Asia/Kathmandu');
    expect(canonicalZone('US/Eastern')).toBe('America/New_York');
  });
  it('is null for what is not a zone', () => {
    for (const z of ['', 'Mars/Base', 'Europe/Berlin ', 'x'.repeat(65)]) expect(canonicalZone(z)).toBeNull();
  });
});

describe('one zone check for campaigns (canonicalZone), remembered for the zones the tables name', () => {
  it("answers a contact's own zone, its country's and its area code's without building an Intl formatter each dial decision", () => {
    const contacts = [
      { phone: '+12125550101', time_zone: 'America/Chicago' },
      { phone: '+12125550101', time_zone: 'europe/berlin' },
      { phone: '+12125550101', time_zone: null },
      { phone: '+79161234567', time_zone: null },
      { phone: '+61255501234', time_zone: null },
    ];
    const first = contacts.map(zonesFor);
    expect(first.slice(0, 2)).toEqual([['America/Chicago'], ['europe/berlin']]);
    const original = Intl.DateTimeFormat;
    let built = 0;
    Intl.DateTimeFormat = new Proxy(original, {
      construct: (target, args: ConstructorParameters<typeof Intl.DateTimeFormat>) => (built++, new target(...args)),
      apply: (target, self, args: ConstructorParameters<typeof Intl.DateTimeFormat>) => (built++, target(...args)),
    });
    try {
      expect(contacts.map(zonesFor)).toEqual(first);
    } finally {
      Intl.DateTimeFormat = original;
    }
    expect(built).toBe(0);
  });

  it("counts every zone of the tables as known (the check it remembers), and only the ones this Node's ICU has as valid", () => {
    const tableZones = new Set([...Object.values(COUNTRY_ZONES).flat(), ...Object.keys(PREFIXES_BY_ZONES).flatMap((z) => z.split('&'))]);
    for (const zone of tableZones) {
      expect(isValidZone(zone), zone).toBe(IANAZone.isValidZone(zone));
      expect(isValidZone(zone.toLowerCase()), zone).toBe(IANAZone.isValidZone(zone));
    }
  });
});
