import { describe, expect, it } from 'vitest';
import { installedPronunciations, sameName } from '../../src/bookings/name-sound.js';
import { callerIdNumber } from '../../src/bookings/phone.js';

describe('callerIdNumber', () => {
  it('a real caller ID in E.164; none for a web call or a withheld number Twilio reports as a made-up one', () => {
    expect(callerIdNumber('(212) 555-0100', 'US')).toBe('+12125550100');
    expect(callerIdNumber('+79161234567', 'US')).toBe('+79161234567');
    for (const withheld of ['+266696687', '+86282452253', '+7378742833', '+2562533', 'anonymous', 'Anonymous', 'Restricted', 'Unavailable', '', ' ', null, undefined, 'not a number']) {
      expect(callerIdNumber(withheld, 'US'), String(withheld)).toBeNull();
    }
  });
});

describe('sameName', () => {
  it('first names alike (and last ones when both have them), by sound or spelling; a booking without a name matches nothing', async () => {
    const dict = await installedPronunciations();
    expect(sameName('Vera Stone', 'Vera Stone', dict)).toBe(true);
    expect(sameName('vera', 'Vera Stone', dict)).toBe(true);
    expect(sameName('Ann Lee', 'Anna Lee', dict)).toBe(true);
    expect(sameName('Catherine Stone', 'Katherine Stone', dict)).toBe(true);
    expect(sameName('Ира', 'Ира', null)).toBe(true);
    expect(sameName('Наталья', 'Наталия', null)).toBe(true);
    expect(sameName('Mallory', 'Vera Stone', dict)).toBe(false);
    expect(sameName('Vera Jones', 'Vera Stone', dict)).toBe(false);
    expect(sameName('Stone', 'Vera Stone', dict)).toBe(false);
    expect(sameName('Vera', null, dict)).toBe(false);
    expect(sameName('', 'Vera', dict)).toBe(false);
  });

  it('a first name given in a short or familiar form, or another language\'s spelling, is the name on the booking', async () => {
    const dict = await installedPronunciations();
    for (const dictionary of [dict, null]) {
      expect(sameName('Bob Stone', 'Robert Stone', dictionary)).toBe(true);
      expect(sameName('Robert Stone', 'Bobby Stone', dictionary)).toBe(true);
      expect(sameName('mary lopez', 'Maria Lopez', dictionary)).toBe(true);
      expect(sameName('Dan', 'Daniel Wood', dictionary)).toBe(true);
      expect(sameName('Katie Brown', 'Katherine Brown', dictionary)).toBe(true);
      expect(sameName('Маша', 'Мария', dictionary)).toBe(true);
      expect(sameName('Саша Петров', 'Александр Петров', dictionary)).toBe(true);
      expect(sameName('Алёша', 'Алексей', dictionary)).toBe(true);
      expect(sameName('Слава', 'Вячеслав', dictionary)).toBe(true);
      expect(sameName('Слава', 'Ярослав', dictionary)).toBe(true);
      // A short form shared by two names does not make the two names one; the surname still has to match.
      expect(sameName('Вячеслав', 'Ярослав', dictionary)).toBe(false);
      expect(sameName('Bob Jones', 'Robert Stone', dictionary)).toBe(false);
      expect(sameName('Bob', 'Richard Stone', dictionary)).toBe(false);
      expect(sameName('Stone Bob', 'Stone Robert', dictionary)).toBe(false);
    }
  });
});
