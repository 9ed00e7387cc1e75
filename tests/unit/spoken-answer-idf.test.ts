import { describe, expect, it } from 'vitest';
import { chunkBlocks } from '../../src/knowledge/chunk.js';
import { parseCsv } from '../../src/knowledge/parse-csv.js';
import { parseMarkdown, parsePlainText } from '../../src/knowledge/parse-text.js';
import { spokenAnswer, termStats } from '../../src/knowledge/spoken-answer.js';

// One chunk of a markdown FAQ without '#' headings: two sections, "hours" under both.
const FAQ = [
  'Cancellation policy',
  'You can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.',
  'Opening hours',
  'We work every day from 8 am to 8 pm.',
].join('\n');

describe('spoken answer: words weighed by how rare they are', () => {
  it('counts passages by heading, and a word under most headings as common', () => {
    const stats = termStats([FAQ]);
    expect(stats.passages).toBe(2);
    expect(stats.df.get('hours')).toBe(2);
    expect(stats.df.get('cance')).toBe(1);
  });

  it('a question sharing only a common word with a sentence is not answered by it', () => {
    // A misheard "Do you fix garage doors?": "hours" is in the cancellation sentence, and under both headings.
    expect(spokenAnswer(FAQ, 'do you fix your hours and hours')).toBeNull();
    expect(spokenAnswer(FAQ, 'Do you fix garage doors?')).toBeNull();
  });

  it('a question sharing a rare word is answered by the sentence that has it', () => {
    expect(spokenAnswer(FAQ, 'What are your opening hours?')).toBe('Opening hours: We work every day from 8 am to 8 pm.');
    expect(spokenAnswer(FAQ, 'What happens if I cancel at the last minute?')).toBe(
      'You can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.');
  });

  it('the rarer shared word decides between sentences that share one word each', () => {
    const chunk = 'Parking is free for every visit. Every visit includes a free safety check of your smoke alarms.';
    const corpus = termStats([
      chunk,
      'Every visit starts with a short chat.', 'Every visit is insured.', 'We confirm every visit by text.',
    ]);
    expect(corpus.passages).toBe(4);
    // "visit" and "every" are in every passage; "alarms" only here: the second sentence answers.
    expect(spokenAnswer(chunk, 'Do you check smoke alarms on every visit?', corpus)).toBe(
      'Every visit includes a free safety check of your smoke alarms.');
    // The same question with only the common words left is not answered at all.
    expect(spokenAnswer(chunk, 'What about every visit?', corpus)).toBeNull();
  });

  it('with corpus statistics from other chunks, a word common across them does not answer here', () => {
    const chunk = 'Appointments can be booked online or by phone.';
    const corpus = termStats(['Book an appointment for a repair.', 'Every appointment is confirmed by text.', chunk]);
    expect(spokenAnswer(chunk, 'Can I change my appointment?', corpus)).toBeNull();
    expect(spokenAnswer(chunk, 'Can I book online?', corpus)).toBe('Appointments can be booked online or by phone.');
    // Alone (one passage, nothing to compare with), the chunk answers as before.
    expect(spokenAnswer(chunk, 'Can I change my appointment?')).toBe('Appointments can be booked online or by phone.');
  });

  it('Russian: a shared rare word answers, a shared common one does not', () => {
    const ru = ['Правила отмены', 'Отменить или перенести запись можно бесплатно за 24 часа до визита.', 'Часы работы', 'Ждём вас на визит каждый день с 8 до 20.'].join('\n');
    expect(spokenAnswer(ru, 'Что будет, если я отменю запись?')).toBe('Отменить или перенести запись можно бесплатно за 24 часа до визита.');
    expect(spokenAnswer(ru, 'Сколько стоит визит?')).toBeNull();
    expect(spokenAnswer(ru, 'Какие у вас часы работы?')).toBe('Часы работы: Ждём вас на визит каждый день с 8 до 20.');
  });
});

describe('spoken answer: the chunk\'s heading path', () => {
  // How chunk.ts stores a markdown section: the heading path apart, the text without it.
  const hours = 'We are open Monday to Friday from 9 am to 6 pm, and on Saturday from 10 am to 4 pm. We are closed on Sunday.';
  it('a question naming the section is answered by the text under it, not refused', () => {
    expect(spokenAnswer(hours, 'What are your opening hours?', undefined, 'Bright Smile Salon > Opening hours')).toBe(
      'We are open Monday to Friday from 9 am to 6 pm, and on Saturday from 10 am to 4 pm. We are closed on Sunday.');
    // Without the heading nothing in the text says "hours": that was the refusal.
    expect(spokenAnswer(hours, 'What are your hours?')).toBeNull();
    expect(spokenAnswer(hours, 'What are your hours?', undefined, 'Bright Smile Salon > Opening hours')).toMatch(/^We are open Monday/);
  });

  it('the sentence\'s own words still choose among the sentences under one heading', () => {
    const prices = 'A haircut costs 40 dollars and takes thirty minutes. Coloring costs 120 dollars and takes an hour and a half.';
    expect(spokenAnswer(prices, 'How much is coloring?', undefined, 'Bright Smile Salon > Prices')).toBe(
      'Coloring costs 120 dollars and takes an hour and a half.');
  });
});

describe('spoken answer: a CSV row', () => {
  // parse-csv.ts writes a row as "header: value" lines.
  const row = 'Service: Perm\nPrice: 123 EUR\nDuration: 45 min';
  it('is one record said as one clause, the asked field in it, not the next field read as the answer', () => {
    const answer = spokenAnswer(row, 'How long does a perm take?', undefined, null);
    expect(answer).toBe('Service Perm, Price 123 EUR, Duration 45 min.');
  });
});

describe('spoken answer: tables and long lines, as the parsers and the chunker leave them', () => {
  const chunkOf = (blocks: Parameters<typeof chunkBlocks>[0]) => chunkBlocks(blocks, { size: 800, overlap: 120 });

  it('a CSV price list: the row asked about, not every row of the list', () => {
    const [chunk] = chunkOf(parseCsv('Service,Price,Duration\nTeeth cleaning,$95,45 min\nWhitening,$350,90 min\nFilling,$120,30 min\n').blocks);
    expect(spokenAnswer(chunk!.text, 'How much is teeth cleaning?')).toBe('Service Teeth cleaning, Price $95, Duration 45 min.');
    expect(spokenAnswer(chunk!.text, 'How long does whitening take?')).toBe('Service Whitening, Price $350, Duration 90 min.');
    const [ru] = chunkOf(parseCsv('Услуга;Цена;Длительность\nСтрижка;900 ₽;30 мин\nОкрашивание;3500 ₽;120 мин\n').blocks);
    expect(spokenAnswer(ru!.text, 'Сколько длится окрашивание?')).toBe('Услуга Окрашивание, Цена 3500 ₽, Длительность 120 мин.');
  });

  it('a short row is said alone, and a time in a value does not end the record', () => {
    const [chunk] = chunkOf(parseCsv('Day,Open,Close\nMonday,9:00,18:00\nSunday,10:00,14:00\n').blocks);
    expect(spokenAnswer(chunk!.text, 'When do you open on Monday?')).toBe('Day Monday, Open 9:00, Close 18:00.');
    expect(spokenAnswer(chunk!.text, 'Are you open on Sunday?')).toBe('Day Sunday, Open 10:00, Close 14:00.');
  });

  it('a Markdown table: its rows as records under their headers; a row not there is no answer, not the first row', () => {
    const [chunk] = chunkOf(parseMarkdown('We accept Delta Dental and Cigna. We do not accept Medicaid.\n\n| Day | Hours |\n|---|---|\n| Mon-Fri | 8 am - 6 pm |\n| Saturday | 9 am - 1 pm |\n').blocks);
    expect(spokenAnswer(chunk!.text, 'Do you take Medicaid?')).toBe('We do not accept Medicaid.');
    expect(spokenAnswer(chunk!.text, 'What are your hours on Saturday?')).toBe('Day Saturday, Hours 9 am - 1 pm.');
    expect(spokenAnswer(chunk!.text, 'What are your hours on Sunday?')).toBeNull();
  });

  it('a run of text without sentence punctuation: the part with the question\'s words, not the run\'s first 220 characters', () => {
    const chunks = chunkOf(parsePlainText(`Policy ${'lorem ipsum dolor sit amet '.repeat(50)} Late cancellation fee is 40 dollars.`).blocks);
    const answering = chunks.find((c) => c.text.includes('cancellation'))!.text;
    expect(answering.length).toBeGreaterThan(600);
    expect(spokenAnswer(answering, 'What is the late cancellation fee?')).toBe('Late cancellation fee is 40 dollars.');
  });
});
