/**
 * `hangup` means "the caller hung up having asked nothing": a call the server, the budget, the time limit or the bot
 * ended before the caller said a word is not one (a web call ended by SIGTERM was analysed `hangup`, "The caller made
 * no request. The bot ended the call."). The LLM path follows the same rule.
 */
import { describe, expect, it } from 'vitest';
import { CALL_END_REASONS } from '../../src/call/end-reasons.js';
import { resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { createAnalyzer } from '../../src/outcomes/llm-analyzer.js';
import { analyzeOffline } from '../../src/outcomes/offline-analyzer.js';
import { renderSystemPrompt } from '../../src/outcomes/prompt.js';
import type { AnalysisInput } from '../../src/outcomes/types.js';
import type { LlmProvider } from '../../src/providers/types.js';

const greetedOnly = [{ role: 'bot', text: 'Hello! How can I help you?' }];
const input = (end: AnalysisInput['end'], over: Partial<AnalysisInput> = {}): AnalysisInput => ({
  language: 'en', transcript: greetedOnly, bookingMade: false, callerNumber: null, outcomes: resolveOutcomeConfig(undefined), end, ...over,
});

describe('the offline analyzer: a call the caller did not end is never a hangup', () => {
  it('a server shutdown before the caller spoke is a failed call, said to be the server\'s end', () => {
    const a = analyzeOffline(input({ status: 'completed', reason: 'server_shutdown' }));
    expect(a.outcomeType).toBe('failed');
    expect(a.summary).toContain('The server ended the call (server_shutdown).');
    expect(a.summary).not.toMatch(/made no request|hung up/);
  });

  it('the budget used up at the start is a failed call', () => {
    expect(analyzeOffline(input({ status: 'failed', reason: 'budget_exhausted' })).outcomeType).toBe('failed');
  });

  it('the time limit or the bot\'s end_call with no word from the caller is no_response', () => {
    const limit = analyzeOffline(input({ status: 'completed', reason: 'max_duration' }));
    expect(limit.outcomeType).toBe('no_response');
    expect(limit.summary).toContain('time limit');
    expect(analyzeOffline(input({ status: 'completed', reason: 'bot_end_call: caller said nothing' })).outcomeType).toBe('no_response');
  });

  it('over every end reason and either status, only the caller\'s own end is a hangup', () => {
    for (const reason of CALL_END_REASONS) {
      for (const status of ['completed', 'failed']) {
        const type = analyzeOffline(input({ status, reason })).outcomeType;
        if (reason === 'caller_hangup' && status === 'completed') expect(type).toBe('hangup');
        else expect(type, `${status} ${reason}`).not.toBe('hangup');
      }
    }
  });

  it('in Russian too, and with a bot\'s own list that has no failed type', () => {
    const ru = analyzeOffline(input({ status: 'completed', reason: 'server_shutdown' }, { language: 'ru', transcript: [{ role: 'bot', text: 'Здравствуйте!' }] }));
    expect(ru.outcomeType).toBe('failed');
    expect(ru.summary).toContain('Звонок завершил сервер');
    const own = resolveOutcomeConfig({ types: [{ name: 'hangup', description: 'hung up' }, { name: 'support', description: 'asked' }] } as never);
    expect(analyzeOffline(input({ status: 'completed', reason: 'server_shutdown' }, { outcomes: own })).outcomeType).not.toBe('hangup');
  });
});

describe('the LLM analyzer: told how the call ended, and its hangup only for the caller\'s end', () => {
  const answering = (outcomeType: string): LlmProvider => ({
    name: 'fake',
    model: 'm',
    structured: async () => ({ summary: 'Nothing was asked.', outcome_type: outcomeType, confidence: 0.8, extracted_data: { intent: null, service: null, date: null, time: null, client_name: null, client_phone: null } }),
  }) as unknown as LlmProvider;
  const prompt = 'Types:\n{{outcome_types}}\nFacts:\n{{facts}}\n{{language}}';

  it('the prompt\'s facts say who ended the call', () => {
    expect(renderSystemPrompt(prompt, input({ status: 'completed', reason: 'server_shutdown' }))).toContain('How the call ended: The server ended the call (server_shutdown).');
  });

  it('an LLM answer of hangup for a server shutdown takes the rules\' type; for the caller\'s end it stands', async () => {
    const analyzer = createAnalyzer({ llm: answering('hangup'), prompt });
    expect((await analyzer.analyze(input({ status: 'completed', reason: 'server_shutdown' }))).outcomeType).toBe('failed');
    expect((await analyzer.analyze(input({ status: 'completed', reason: 'max_duration' }))).outcomeType).toBe('no_response');
    expect((await analyzer.analyze(input({ status: 'completed', reason: 'caller_hangup: stop' }))).outcomeType).toBe('hangup');
  });
});
