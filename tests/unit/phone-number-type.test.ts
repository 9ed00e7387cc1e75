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

  it('leaves normalisation as it was: a premium number is still a valid, stored number', () => {
    expect(normalisePhone('+1 900 555 0123')).toBe('+19005550123');
    expect(normalisePhone('+4402079460000')).toBe('+442079460000');
  });
});
