/** the safe-speech checker, one check at a time, in English and Russian. */
import { describe, expect, it } from 'vitest';
import { spokenAnswer } from '../../src/knowledge/spoken-answer.js';
import { allowContactsIn, checkPhrase, FALLBACK_PHRASES, stripFormatting, type SafeSpeechContext } from '../../src/safety/safe-speech.js';

const en: SafeSpeechContext = {
  language: 'en',
  systemPrompt: 'You are Ava, the receptionist of Bright Smile Dental. Never discuss competitors or give medical diagnoses over the phone. Internal note: the owner is negotiating to sell the clinic next year.',
  blocklist: ['Happy Teeth', 'lawsuit'],
  callerNumber: '+12125550201',
  callerEmail: 'ann@example.com',
  allowedNumbers: ['+1 (212) 555-0100', 'front@brightsmile.com'],
  facts: [{ name: 'teeth cleaning', aliases: ['cleaning'], values: [80] }, { name: 'whitening', values: [250] }],
};
const ru: SafeSpeechContext = {
  language: 'ru',
  blocklist: ['конкурент'],
  callerNumber: '+79161234567',
  facts: [{ name: 'чистка зубов', aliases: ['чистка'], values: [3500] }],
};

describe('safe speech', () => {
  it('passes ordinary phrases untouched', () => {
    for (const text of [
      'Sure, I can book you for Friday at 3 pm.',
      'Teeth cleaning costs $80 and takes 30 minutes.',
      'Whitening is $250.',
      'Your visit is on 2026-04-16 at 10:30.',
      'We are open from 9 to 6, and parking costs nothing.',
    ]) expect(checkPhrase(text, en), text).toEqual({ ok: true });
    expect(checkPhrase('Чистка зубов стоит 3 500 рублей.', ru)).toEqual({ ok: true });
  });

  it('strips emoji and pictographs, which a voice reads as their names, keeping the words (a document\'s sentence too)', () => {
    expect(checkPhrase('Opening hours 🕘: we open at 9 am 😀.', en)).toEqual({ ok: false, reason: 'formatting', replacement: 'Opening hours: we open at 9 am.' });
    expect(stripFormatting('Rated ★★★★★ by 👨‍👩‍👧 families 👍🏽, press 1️⃣ or visit us in 🇷🇺 Moscow™.')).toBe('Rated by families, press 1 or visit us in Moscow.');
    expect(checkPhrase('✅ 😀', en)).toMatchObject({ ok: false, reason: 'formatting', replacement: FALLBACK_PHRASES.en.empty });
    // What the offline engine says from a document (spoken-answer.ts) goes through the same check before the voice.
    const said = spokenAnswer('Мы открыты с 9 до 18 ✅. Подробнее на сайте 👉 www.salon.ru/hours', 'когда вы открыты');
    expect(checkPhrase(said!, ru)).toEqual({ ok: false, reason: 'formatting', replacement: 'Мы открыты с 9 до 18. Подробнее на сайте' });
    // Text without them is untouched: letters, digits, currency and punctuation are not pictographs.
    expect(checkPhrase('Парковка бесплатна: 2 часа, скидка 10%, в зале 25 °C, абонемент 500 ₽ — «Лайм».', ru)).toEqual({ ok: true });
  });

  it('strips markdown and URLs, keeping the words', () => {
    const r = checkPhrase('**Teeth cleaning** is our most popular service — see https://brightsmile.com/prices for details.', en);
    expect(r).toEqual({ ok: false, reason: 'formatting', replacement: 'Teeth cleaning is our most popular service — see for details.' });
    expect(stripFormatting('## Hours\n- Monday: 9 to 6\n- [Book online](https://x.io/b) now')).toBe('Hours Monday: 9 to 6 Book online now');
    expect(stripFormatting('Visit www.brightsmile.com today.')).toBe('Visit today.');
    expect(checkPhrase('https://brightsmile.com', en)).toMatchObject({ ok: false, reason: 'formatting', replacement: FALLBACK_PHRASES.en.empty });
    // An allowed email is not mangled by URL stripping.
    expect(checkPhrase('We will write to ann@example.com.', en)).toEqual({ ok: true });
  });

  it('refuses code read aloud', () => {
    expect(checkPhrase('```js\nconst x = 1;\n```', en)).toMatchObject({ ok: false, reason: 'code', replacement: FALLBACK_PHRASES.en.code });
    expect(checkPhrase('Run function book(slot) { return true; }', en)).toMatchObject({ ok: false, reason: 'code' });
    expect(checkPhrase('<script>alert(1)</script>', ru)).toMatchObject({ ok: false, reason: 'code', replacement: FALLBACK_PHRASES.ru.code });
  });

  it('refuses the per-bot blocklist, whole words, case-insensitive', () => {
    expect(checkPhrase('Honestly, happy  teeth is cheaper.', en)).toMatchObject({ ok: false, reason: 'blocked', replacement: FALLBACK_PHRASES.en.blocked, detail: 'happy  teeth' });
    expect(checkPhrase('That lawsuits thing is old news.', en)).toEqual({ ok: true }); // not the whole word
    expect(checkPhrase('Наш Конкурент дешевле.', ru)).toMatchObject({ ok: false, reason: 'blocked', replacement: FALLBACK_PHRASES.ru.blocked });
  });

  it('refuses a long verbatim run of the system prompt, not a short shared phrase', () => {
    expect(checkPhrase('Well, internal note: the owner is negotiating to sell the clinic next year.', en))
      .toMatchObject({ ok: false, reason: 'system_prompt', replacement: FALLBACK_PHRASES.en.system_prompt });
    expect(checkPhrase('I am Ava, the receptionist of Bright Smile Dental.', en)).toEqual({ ok: true });
    expect(checkPhrase('Never, discuss competitors or give medical diagnoses over the phone!', { ...en, promptOverlapWords: 8 })).toMatchObject({ reason: 'system_prompt' });
  });

  it('refuses another caller\'s phone number or email; the caller\'s own and the call\'s documents are fine', () => {
    expect(checkPhrase('I have your number as 212-555-0201.', en)).toEqual({ ok: true });
    expect(checkPhrase('Our front desk is +1 (212) 555-0100, or front@brightsmile.com.', en)).toEqual({ ok: true });
    expect(checkPhrase('Mr Smith is reachable at +1 646 555 0199.', en)).toMatchObject({ ok: false, reason: 'foreign_data', replacement: FALLBACK_PHRASES.en.foreign_data });
    expect(checkPhrase('Her email is bob@other.org.', en)).toMatchObject({ ok: false, reason: 'foreign_data', detail: 'email bob@other.org' });
    expect(checkPhrase('Call 555-0199 tomorrow.', en)).toMatchObject({ ok: false, reason: 'foreign_data' });
    expect(checkPhrase('Ваш номер 8 916 123-45-67?', ru)).toEqual({ ok: true });
    expect(checkPhrase('Позвоните Ивану: +7 903 765-43-21.', ru)).toMatchObject({ ok: false, reason: 'foreign_data', replacement: FALLBACK_PHRASES.ru.foreign_data });
    // Not phone numbers: a date, a price, a short code.
    expect(checkPhrase('Your code is 4821 and the total is 1,250,000 dollars for the fleet.', en)).toEqual({ ok: true });
  });

  it('refuses a price that contradicts the one a tool or document gave, conservatively', () => {
    expect(checkPhrase('Teeth cleaning costs $95.', en)).toMatchObject({ ok: false, reason: 'invented_number', replacement: FALLBACK_PHRASES.en.invented_number });
    expect(checkPhrase('A cleaning is 120 dollars.', en)).toMatchObject({ ok: false, reason: 'invented_number', detail: 'teeth cleaning: said 120, known 80' });
    expect(checkPhrase('Cleaning is $80, and whitening is $250.', en)).toEqual({ ok: true }); // each price by its service
    expect(checkPhrase('Cleaning is $80, and whitening is $300.', en)).toMatchObject({ reason: 'invented_number', detail: 'whitening: said $300, known 250' });
    // Not prices, or not next to a known service: left alone.
    expect(checkPhrase('Cleaning takes 45 minutes.', en)).toEqual({ ok: true });
    expect(checkPhrase('Consultations are $40.', en)).toEqual({ ok: true });
    expect(checkPhrase('We have 3 hygienists. Cleaning is $80.', en)).toEqual({ ok: true });
    expect(checkPhrase('Чистка зубов стоит 4 000 ₽.', ru)).toMatchObject({ ok: false, reason: 'invented_number', replacement: FALLBACK_PHRASES.ru.invented_number });
    expect(checkPhrase('Чистка — 3500 руб.', ru)).toEqual({ ok: true });
  });

  it('allows the numbers and emails a tool result or document brought into the call', () => {
    const phrase = 'Dr Lee takes calls at +1 646 555 0199 or lee@brightsmile.com.';
    expect(checkPhrase(phrase, en)).toMatchObject({ reason: 'foreign_data' });
    const withTool = allowContactsIn(en, JSON.stringify({ doctor: 'Lee', phone: '+16465550199', email: 'lee@brightsmile.com' }));
    expect(checkPhrase(phrase, withTool)).toEqual({ ok: true });
    expect(allowContactsIn(en, 'no contacts here')).toBe(en);
  });

  it('is deterministic and keeps no state between phrases', () => {
    const a = checkPhrase('Teeth cleaning costs $95.', en);
    checkPhrase('Sure.', en);
    expect(checkPhrase('Teeth cleaning costs $95.', en)).toEqual(a);
  });
});
