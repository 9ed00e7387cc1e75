import { describe, expect, it } from 'vitest';
import { luhnValid, redact, redactDeep, redactRulesOf } from '../../src/privacy/redact.js';

const ALL = ['cards', 'emails', 'phones'] as const;

describe('redact', () => {
  it('replaces Luhn-valid card numbers in any grouping, and leaves other long numbers alone', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(redact('my card is 4111 1111 1111 1111 thanks', ['cards'])).toBe('my card is [card] thanks');
    expect(redact('card 4111-1111-1111-1111.', ['cards'])).toBe('card [card].');
    expect(redact('amex 378282246310005', ['cards'])).toBe('amex [card]');
    expect(redact('order 4111 1111 1111 1112 please', ['cards'])).toBe('order 4111 1111 1111 1112 please');
    expect(redact('order number 1234567890123', ['cards'])).toBe('order number 1234567890123');
    // Over 19 digits in one piece is no card.
    expect(redact('ref 41111111111111110000000', ['cards'])).toBe('ref 41111111111111110000000');
    // The security code or expiry said straight after the number goes with it; commas group as well as spaces.
    for (const said of ['4111 1111 1111 1111 123', '4111-1111-1111-1111 12 27', '4111111111111111 5', '4111, 1111, 1111, 1111', '3782 822463 10005 1234']) {
      expect(redact(`my card is ${said} thanks`, ['cards']), said).toBe('my card is [card] thanks');
    }
    // A grouped number that is no card stays, with or without more digits after it.
    expect(redact('order 1234 5678 9012 3456 78', ['cards'])).toBe('order 1234 5678 9012 3456 78');
  });

  it('replaces email addresses, Unicode ones included', () => {
    expect(redact('write to jane.doe+x@example.co.uk today', ['emails'])).toBe('write to [email] today');
    expect(redact('почта иван@пример.рф, спасибо', ['emails'])).toBe('почта [email], спасибо');
    expect(redact('at 10@ night', ['emails'])).toBe('at 10@ night');
  });

  it('replaces phone numbers in E.164 and national formats, and said as words', () => {
    expect(redact('call +14155550123 now', ['phones'])).toBe('call [phone] now');
    expect(redact('call +1 (415) 555-0123 now', ['phones'])).toBe('call [phone] now');
    expect(redact('it is (415) 555-0123', ['phones'])).toBe('it is [phone]');
    expect(redact('it is 415.555.0123', ['phones'])).toBe('it is [phone]');
    expect(redact('dial 555-1234', ['phones'])).toBe('dial [phone]');
    expect(redact('my number is five five five one two three four five six seven', ['phones'])).toBe('my number is [phone]');
    expect(redact('Мой номер 8 (912) 345-67-89, звоните', ['phones'])).toBe('Мой номер [phone], звоните');
    expect(redact('номер восемь девять один два три четыре пять шесть семь', ['phones'])).toBe('номер [phone]');
  });

  it('does not touch dates, times, prices, short numbers or counting', () => {
    const text = 'On 2024-05-01 at 10:30 order 12345 costs $1,250.00 for 3 people, one two three';
    expect(redact(text, ALL)).toBe(text);
  });

  it('applies only the rules asked for', () => {
    const text = 'card 4111 1111 1111 1111, mail a@b.io, phone +442071838750';
    expect(redact(text, [])).toBe(text);
    expect(redact(text, ['cards'])).toBe('card [card], mail a@b.io, phone +442071838750');
    expect(redact(text, ALL)).toBe('card [card], mail [email], phone [phone]');
  });

  it('handles Russian text with everything at once', () => {
    const text = 'Меня зовут Иван, карта 4111 1111 1111 1111, почта ivan@mail.ru, телефон +7 912 345-67-89.';
    expect(redact(text, ALL)).toBe('Меня зовут Иван, карта [card], почта [email], телефон [phone].');
  });

  it('walks JSON values and reads the rules from a bot config (cards by default)', () => {
    expect(redactDeep({ a: 'x@y.com', n: 3, list: ['+14155550123'], nested: { b: null } }, ALL)).toEqual({ a: '[email]', n: 3, list: ['[phone]'], nested: { b: null } });
    expect(redactRulesOf(undefined)).toEqual(['cards']);
    expect(redactRulesOf({})).toEqual(['cards']);
    expect(redactRulesOf({ privacy: {} })).toEqual(['cards']);
    expect(redactRulesOf({ privacy: { redact: [] } })).toEqual([]);
    expect(redactRulesOf({ privacy: { redact: ['phones', 'emails'] } })).toEqual(['emails', 'phones']);
  });
});
