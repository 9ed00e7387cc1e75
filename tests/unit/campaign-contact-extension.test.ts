/**
 * A contact's number with an extension ("ext 5", "x5", "доб. 5") is a row error: a campaign dials the number alone,
 * so it would ring the switchboard, not the person — before, the extension was dropped without a word.
 */
import { describe, expect, it } from 'vitest';
import { checkContacts, contactsFromCsv } from '../../src/campaigns/contacts.js';

describe('contact numbers with an extension', () => {
  it('are reported by row and not stored, from CSV and JSON alike; plain numbers still pass', () => {
    const csv = [
      'phone,name',
      '+1 212 555 0101 ext 5,Ann',
      '"+1 (212) 555-0102 x12",Bob',
      '+12125550103;ext=7,Cy',
      '+7 495 123-45-67 доб. 123,Дина',
      '+1 212 555 0104,Eve',
    ].join('\n');
    const { contacts, errors } = checkContacts(contactsFromCsv(csv));
    expect(contacts.map((c) => c.phone)).toEqual(['+12125550104']);
    expect(errors.map((e) => e.row)).toEqual([1, 2, 3, 4]);
    expect(errors[0]!.error).toMatch(/extension/);
    const json = checkContacts([{ phone: '+44 20 7946 0000 ext. 204' }, { phone: '020 7946 0001' }], 'GB');
    expect(json.contacts.map((c) => c.phone)).toEqual(['+442079460001']);
    expect(json.errors).toEqual([{ row: 1, error: expect.stringMatching(/extension 204/) }]);
  });
});
