import { describe, expect, it } from 'vitest';
import { countCallEnded, countProviderFailures, createMetrics, endReasonLabel, observeCallLatency } from '../../src/metrics.js';
import { TtsFailure } from '../../src/call/playback.js';
import { ParleyError } from '../../src/errors.js';
import { upstreamStatusDetails } from '../../src/providers/upstream-status.js';

describe('call latency metrics', () => {
  it('exports each turn stage and barge-in stage under the transcript latency names', async () => {
    const m = createMetrics();
    observeCallLatency(m, {
      turnLatencies: [{ speechMs: 900, sttFinalMs: 600, endpointMs: 600, llmFirstTokenMs: 900, ttsFirstAudioMs: 1100, responseMs: 1120, totalMs: 1120 }],
      bargeIns: [
        { onsetToQuietMs: 90, outcome: 'resumed', onsetToOutcomeMs: 700, detectToClearMs: 0 },
        { onsetToQuietMs: 80, outcome: 'committed', onsetToOutcomeMs: 400, detectToClearMs: 0 },
      ],
    });
    const text = await m.registry.metrics();
    for (const stage of ['speech', 'stt_final', 'endpoint', 'llm_first_token', 'tts_first_audio', 'response', 'total']) {
      expect(text).toContain(`parley_call_turn_latency_seconds_count{stage="${stage}"} 1`);
    }
    expect(text).toContain('parley_barge_in_seconds_count{stage="onset_to_quiet"} 2');
    expect(text).toContain('parley_barge_in_seconds_count{stage="onset_to_commit"} 1');
    expect(text).toContain('parley_barge_in_seconds_count{stage="onset_to_resume"} 1');
  });

  it('counts ended calls by a bounded reason: the category, never the free text after it', async () => {
    expect(endReasonLabel('bot_end_call: the caller said goodbye and thanked us')).toBe('bot_end_call');
    expect(endReasonLabel('caller_hangup: 1000')).toBe('caller_hangup');
    expect(endReasonLabel('provider_failure: tts')).toBe('provider_failure_tts');
    expect(endReasonLabel('provider_failure: something new')).toBe('other');
    expect(endReasonLabel('max_duration')).toBe('max_duration');
    expect(endReasonLabel('anything else')).toBe('other');
    expect(endReasonLabel(null)).toBe('unknown');
    const m = createMetrics();
    for (const endReason of ['bot_end_call: a', 'bot_end_call: b', 'silence']) countCallEnded(m, { endReason });
    const text = await m.registry.metrics();
    expect(text).toContain('parley_calls_ended_total{reason="bot_end_call"} 2');
    expect(text).toContain('parley_calls_ended_total{reason="silence"} 1');
  });
});

describe('provider failure metrics', () => {
  it('an account refusal (401/402/403) is counted apart, by provider and stage; other failures are not', async () => {
    const m = createMetrics();
    const count = countProviderFailures(m, { stt: { name: 'deepgram' }, llm: { name: 'openai' }, tts: { name: 'cartesia' } });
    const payment = new ParleyError('PARLEY_ERR_UPSTREAM', 'Cartesia error: payment required', upstreamStatusDetails('cartesia', 402));
    count('tts', false, new TtsFailure(payment, 'On Sundays we are closed.'));
    count('tts', true, new Error('socket closed'));
    count('llm', false);
    const account = (await m.providerAccountFailures.get()).values;
    expect(account).toEqual([{ labels: { provider: 'cartesia', stage: 'tts' }, value: 1 }]);
    expect((await m.providerErrors.get()).values.reduce((n, v) => n + v.value, 0)).toBe(3);
  });
});
