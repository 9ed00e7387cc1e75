import { describe, expect, it } from 'vitest';
import { resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { analyzeOffline } from '../../src/outcomes/offline-analyzer.js';
import type { AnalysisInput, TranscriptTurn } from '../../src/outcomes/types.js';

const turns = (...pairs: [string, string][]): TranscriptTurn[] => pairs.map(([role, text]) => ({ role, text }));
const input = (transcript: TranscriptTurn[], end: AnalysisInput['end'], language: 'en' | 'ru' = 'en'): AnalysisInput => ({
  language, transcript, bookingMade: false, callerNumber: null, outcomes: resolveOutcomeConfig(undefined), end,
});

describe('offline outcomes tell how the call ended', () => {
  it('a provider failure is a failed call, never "the caller hung up"', () => {
    const a = analyzeOffline(input(turns(['bot', 'Здравствуйте!']), { status: 'failed', reason: 'provider_failure: stt' }, 'ru'));
    expect(a.outcomeType).toBe('failed');
    expect(a.summary).toContain('сбоя системы (provider_failure: stt)');
    expect(a.summary).not.toContain('положил трубку');
  });

  it('the bot ending after silence is no_response, with the reason from the call or from the transcript', () => {
    const t = turns(['bot', 'Hello!'], ['bot', 'Are you still there?'], ['bot', "I haven't heard anything for a while, so I'll end the call now. Goodbye!"]);
    expect(analyzeOffline(input(t, { status: 'completed', reason: 'silence' }))).toMatchObject({ outcomeType: 'no_response' });
    const noReason = analyzeOffline(input(t, { status: 'completed', reason: null }));
    expect(noReason.outcomeType).toBe('no_response');
    expect(noReason.summary).toContain('went silent and the bot ended the call');
  });

  it('a caller who hangs up without a word is a hangup; a transfer is a transfer', () => {
    expect(analyzeOffline(input(turns(['bot', 'Hello!']), { status: 'completed', reason: 'caller_hangup: socket closed' }))).toMatchObject({ outcomeType: 'hangup' });
    const transferred = turns(['bot', 'Hello!'], ['caller', 'Can I talk to a person?'], ['system', 'Transfer to +15557654321 requested: caller asked for a human']);
    expect(analyzeOffline(input(transferred, { status: 'completed', reason: 'transferred' }))).toMatchObject({ outcomeType: 'transfer' });
  });

  it('the callback details make a lead with the name, the number in words and the request', () => {
    const t = turns(
      ['bot', 'Hi!'], ['caller', 'Do you install solar panels?'],
      ['bot', "I'm sorry, I don't have that information. I can take your details and have someone call you back. What name should I leave for the callback?"],
      ['caller', 'Maria Lopez'], ['bot', 'Thank you, Maria Lopez. What number should we call you back on?'],
      ['caller', 'two one two five five five zero one four two'], ['bot', "Thank you, Maria Lopez. I've noted your number…"],
      ['caller', 'no thanks, bye'],
    );
    const a = analyzeOffline(input(t, { status: 'completed', reason: 'bot_end_call: caller said goodbye' }));
    expect(a.outcomeType).toBe('lead');
    expect(a.extractedData).toMatchObject({ client_phone: '2125550142', intent: 'callback: Do you install solar panels' });
  });
});
