/** Number types by libphonenumber's full metadata: what the dialer refuses as premium rate (src/util/phone.ts). */
import { describe, expect, it } from 'vitest';
import { isCallerChargedNumber, normalisePhone, phoneNumberType } from '../../src/util/phone.js';

describe('phone number types', () => {
  it('tells premium-rate, shared-cost and UAN numbers from ordinary ones', () => {
    expect(phoneNumberType('+19005550123')).toBe('PREMIUM_RATE');
    expect(phoneNumberType('+449098790123')).toBe('PREMIUM_RATE');
    expect(phoneNumberType('+4918012345678')).toBe('SHARED_COST');
    expect(phoneNumberType('+443031234567')).toBe('UAN');
    expect(phoneNumberType('+442079460000')).toBe('FIXED_LINE');
    for (const n of ['+19005550123', '+449098790123', '+4918012345678', '+443031234567', '+33892123456']) expect(isCallerChargedNumber(n), n).toBe(true);
    for (const n of ['+442079460000', '+12125550150', '+18005550199', '+15551230000', '+79161234567']) expect(isCallerChargedNumber(n), n).toBe(false);
  });

  it('refuses a caller-charged number with digits added after it, which the metadata calls invalid but a network may connect', () => {
    // Trailing digits are taken as an extension (overdialling) on many networks: +49 900 1 234567 8 reaches +49 900 1 234567.
    for (const n of ['+4990012345678', '+4990012345678901', '+190055501234', '+4490987901234', '+338921234567', '+44303123456789']) {
      expect(phoneNumberType(n), n).toBeUndefined();
      expect(isCallerChargedNumber(n), n).toBe(true);
    }
    // Invalid numbers whose leading digits are no caller-charged number stay what they were.
    for (const n of ['+121255501500', '+15551230000', '+4420794600001', '+1800555019912']) expect(isCallerChargedNumber(n), n).toBe(false);
  });

  it('leaves normalisation as it was: a premium number is still a valid, stored number', () => {
    expect(normalisePhone('+1 900 555 0123')).toBe('+19005550123');
    expect(normalisePhone('+4402079460000')).toBe('+442079460000');
  });
});
