import { describe, expect, it } from 'vitest';
import { DEFAULT_EXTRACTION_SCHEMA, resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { analyzeOffline } from '../../src/outcomes/offline-analyzer.js';
import { checkResponse } from '../../src/outcomes/response-schema.js';
import type { AnalysisInput, TranscriptTurn } from '../../src/outcomes/types.js';

const turns = (...pairs: [string, string][]): TranscriptTurn[] => pairs.map(([role, text]) => ({ role, text }));
const input = (transcript: TranscriptTurn[], extra: Partial<AnalysisInput> = {}): AnalysisInput => ({
  language: 'en',
  transcript,
  bookingMade: false,
  callerNumber: '+15550001111',
  outcomes: resolveOutcomeConfig(undefined),
  ...extra,
});

describe('offline analyzer (English)', () => {
  it('a booked haircut is a booking, with service, date, time and name extracted', () => {
    const a = analyzeOffline(
      input(
        turns(
          ['bot', 'Hello, Bella Salon, how can I help?'],
          ['caller', "Hi, I'd like to book a haircut tomorrow at 3 pm."],
          ['bot', 'Sure, may I have your name?'],
          ['caller', 'My name is anna smith'],
          ['tool', 'book_appointment: confirmed'],
        ).map((t) => (t.role === 'tool' ? { ...t, name: 'book_appointment' } : t)),
      ),
    );
    expect(a.outcomeType).toBe('booking');
    expect(a.extractedData).toEqual({
      intent: 'book_appointment',
      service: 'haircut',
      date: 'tomorrow',
      time: '15:00',
      client_name: 'Anna Smith',
      client_phone: '+15550001111',
    });
    expect(a.summary).toMatch(/booked a haircut/);
    // The result satisfies the default extraction schema.
    expect(checkResponse(resolveOutcomeConfig(undefined), { summary: a.summary, outcome_type: a.outcomeType, confidence: a.confidence, extracted_data: a.extractedData }).ok).toBe(true);
  });

  it('a booking row in the database wins over everything', () => {
    expect(analyzeOffline(input(turns(['caller', 'what time do you close?']), { bookingMade: true }))).toMatchObject({ outcomeType: 'booking', confidence: 0.95 });
  });

  it('a failed booking tool call is not a booking', () => {
    const a = analyzeOffline(input([{ role: 'caller', text: 'Book me a massage on Friday, this is Tom, my number is 555 123 4567' }, { role: 'tool', name: 'book_appointment', text: 'error: slot taken' }]));
    expect(a.outcomeType).toBe('lead');
    expect(a.extractedData).toMatchObject({ client_name: 'Tom', client_phone: '5551234567', date: 'friday', service: 'massage' });
  });

  it('no caller speech is a hangup', () => {
    expect(analyzeOffline(input(turns(['bot', 'Hello? Are you there?'])))).toMatchObject({ outcomeType: 'hangup', confidence: 0.95 });
    expect(analyzeOffline(input([]))).toMatchObject({ outcomeType: 'hangup' });
  });

  it('questions are support', () => {
    const a = analyzeOffline(input(turns(['caller', 'How much is a manicure?'], ['bot', 'It is 30 dollars.'], ['caller', 'Do you work on Sundays'])));
    expect(a.outcomeType).toBe('support');
    expect(a.extractedData.intent).toBe('ask_question');
    expect(a.summary).toContain('How much is a manicure?');
  });

  it('a name and a phone number are a lead', () => {
    const a = analyzeOffline(input(turns(['caller', "I'm interested in your prices. My name is John, call me back at +1 (415) 555-0100."]), { callerNumber: null }));
    expect(a).toMatchObject({ outcomeType: 'lead' });
    expect(a.extractedData).toMatchObject({ client_name: 'John', client_phone: '+14155550100' });
  });
});

describe('offline analyzer (Russian)', () => {
  it('запись на стрижку — booking', () => {
    const a = analyzeOffline(
      input([{ role: 'caller', text: 'Здравствуйте, хочу записаться на стрижку завтра в 3 дня' }, { role: 'caller', text: 'Меня зовут Ольга' }, { role: 'system', text: 'tool book_appointment ok' }], { language: 'ru' }),
    );
    expect(a.outcomeType).toBe('booking');
    expect(a.extractedData).toMatchObject({ service: 'стрижку', date: 'завтра', time: '15:00', client_name: 'Ольга', intent: 'book_appointment' });
    expect(a.summary).toMatch(/записал/);
  });

  it('вопрос — support; имя и телефон — lead', () => {
    expect(analyzeOffline(input(turns(['caller', 'Сколько стоит маникюр?']), { language: 'ru' })).outcomeType).toBe('support');
    expect(analyzeOffline(input(turns(['caller', 'Когда вы открываетесь']), { language: 'ru' })).outcomeType).toBe('support');
    const lead = analyzeOffline(input(turns(['caller', 'Меня зовут Иван Петров, перезвоните мне по номеру +7 916 123-45-67']), { language: 'ru', callerNumber: null }));
    expect(lead.outcomeType).toBe('lead');
    expect(lead.extractedData).toMatchObject({ client_name: 'Иван Петров', client_phone: '+79161234567' });
    expect(lead.summary).toMatch(/Иван Петров/);
  });
});

describe('bot-defined outcome types and schema', () => {
  it('falls back to the bot\'s own list and fills only its schema\'s properties', () => {
    const outcomes = resolveOutcomeConfig({
      types: [{ name: 'sale' }, { name: 'other' }],
      extractionSchema: { type: 'object', properties: { client_name: { type: ['string', 'null'] }, budget: { type: ['number', 'null'] } } },
    });
    const a = analyzeOffline(input(turns(['caller', 'My name is Kate, what do you sell?']), { outcomes }));
    expect(a.outcomeType).toBe('other');
    expect(a.extractedData).toEqual({ client_name: 'Kate', budget: null });
    expect(DEFAULT_EXTRACTION_SCHEMA.required).toHaveLength(6);
  });
});
