import { describe, expect, it } from 'vitest';
import { BOOKING_STATUSES, assertTransition, canTransition } from '../../src/bookings/state-machine.js';
import { ParleyError } from '../../src/errors.js';
import { matchService } from '../../src/bookings/service-match.js';
import { normalizePhone, defaultRegionFor } from '../../src/bookings/phone.js';
import { bookingConfigProblems, type BookingConfig } from '../../src/bookings/config-schema.js';

describe('booking state machine', () => {
  const legal: Array<[string, string]> = [
    ['held', 'pending'], ['held', 'confirmed'], ['held', 'cancelled'], ['held', 'expired'],
    ['pending', 'confirmed'], ['pending', 'cancelled'],
    ['confirmed', 'in_progress'], ['confirmed', 'cancelled'],
    ['in_progress', 'completed'], ['in_progress', 'cancelled'],
  ];
  it('allows exactly the lifecycle edges', () => {
    for (const from of BOOKING_STATUSES) {
      for (const to of BOOKING_STATUSES) {
        const expected = legal.some(([f, t]) => f === from && t === to);
        expect(canTransition(from, to), `${from} → ${to}`).toBe(expected);
      }
    }
  });
  it('answers PARLEY_ERR_ILLEGAL_TRANSITION (409) with the allowed moves', () => {
    try {
      assertTransition('completed', 'cancelled');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ParleyError);
      expect((e as ParleyError).code).toBe('PARLEY_ERR_ILLEGAL_TRANSITION');
      expect((e as ParleyError).status).toBe(409);
    }
    expect(() => assertTransition('pending', 'completed')).toThrow(/cannot become completed/);
  });
});

describe('matchService', () => {
  const services = [
    { id: 'haircut', name: 'Haircut', aliases: ['стрижка'], durationMin: 60 },
    { id: 'beard', name: 'Beard trim', aliases: ['борода', 'стрижка бороды'], durationMin: 30 },
    { id: 'color', name: 'Hair coloring', aliases: ['окрашивание'], durationMin: 90 },
  ];
  it.each([
    ['a haircut', 'haircut'],
    ['haircuts', 'haircut'],
    ['стрижку', 'haircut'],
    ['beard', 'beard'],
    ['подровнять бороду', 'beard'],
    ['coloring', 'color'],
    ['окрашивание волос', 'color'],
    ['hair colouring', 'color'],
  ])('%s → %s', (q, id) => {
    expect(matchService(q, services)?.id).toBe(id);
  });
  it('returns null when nothing is close', () => {
    expect(matchService('massage', services)).toBeNull();
  });
});

describe('phone normalisation', () => {
  it('normalises to E.164 with a default region from the bot language', () => {
    expect(normalizePhone('(212) 555-0100', defaultRegionFor('en'))).toBe('+12125550100');
    expect(normalizePhone('8 (916) 123-45-67', defaultRegionFor('ru'))).toBe('+79161234567');
    expect(normalizePhone('+44 20 7946 0958', defaultRegionFor('ru'))).toBe('+442079460958');
    expect(() => normalizePhone('12', 'US')).toThrow(/not a valid phone/);
  });
});

describe('bookingConfigProblems', () => {
  it('reports a bad zone, unknown services and reversed hours', () => {
    const config: BookingConfig = {
      timezone: 'Mars/Olympus',
      services: [{ id: 'a', name: 'A', durationMin: 30 }],
      resources: [{ id: 'r', name: 'R', services: ['a', 'b'] }],
      hours: { mon: { open: '17:00', close: '09:00' } },
    };
    const problems = bookingConfigProblems(config);
    expect(problems.some((p) => p.includes('Mars/Olympus'))).toBe(true);
    expect(problems.some((p) => p.includes('unknown service "b"'))).toBe(true);
    expect(problems.some((p) => p.includes('close must be after open'))).toBe(true);
    expect(bookingConfigProblems({ ...config, timezone: 'Europe/Berlin', resources: [{ id: 'r', name: 'R', services: ['a'] }], hours: {} })).toEqual([]);
  });
});
