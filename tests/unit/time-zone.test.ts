import { describe, expect, it } from 'vitest';
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
