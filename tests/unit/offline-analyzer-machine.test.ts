/**
 * A call answering-machine detection ended (a voicemail left, a machine or a fax hung up on) had nobody on the line:
 * it is analysed as no conversation, said to be a machine's — never a `hangup` (the caller's own end) nor handed to
 * the LLM as a conversation (before, its end reason was caller_hangup and the offline rules called it `hangup`,
 * "The caller made no request. The caller hung up.").
 */
import { describe, expect, it } from 'vitest';
import { resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { analyzeOffline, endingFact, isNotConnected } from '../../src/outcomes/offline-analyzer.js';
import type { AnalysisInput } from '../../src/outcomes/types.js';

const input = (reason: string, over: Partial<AnalysisInput> = {}): AnalysisInput => ({
  language: 'en', transcript: [], bookingMade: false, callerNumber: '+15551230000', outcomes: resolveOutcomeConfig(undefined),
  end: { status: 'completed', reason }, ...over,
});

describe('the offline analyzer: a call a machine answered', () => {
  it('is no conversation, not analysed by the LLM, and says a machine answered', () => {
    for (const reason of ['voicemail_left: machine_end_beep', 'voicemail_hung_up: machine_start', 'fax']) {
      expect(isNotConnected(input(reason)), reason).toBe(true);
      const a = analyzeOffline(input(reason));
      expect(a.outcomeType, reason).toBe('not_connected');
      expect(a.summary, reason).toContain('A machine answered the call');
      expect(a.summary, reason).not.toMatch(/hung up|made no request/);
    }
    expect(analyzeOffline(input('voicemail_left: machine_end_beep')).summary).toContain('the message was left');
    expect(analyzeOffline(input('fax')).summary).toContain('a fax');
  });

  it('in Russian too, and the LLM\'s facts say it was a machine', () => {
    expect(analyzeOffline(input('voicemail_hung_up: machine_start', { language: 'ru' })).summary).toContain('Ответил автоответчик');
    expect(endingFact(input('voicemail_hung_up: machine_start'))).toContain('A machine answered the call');
  });

  it('with a bot\'s own list of types without not_connected, is never a hangup', () => {
    const own = resolveOutcomeConfig({ types: [{ name: 'hangup', description: 'hung up' }, { name: 'other', description: 'else' }] } as never);
    expect(analyzeOffline(input('voicemail_hung_up: machine_start', { outcomes: own })).outcomeType).toBe('other');
  });
});
