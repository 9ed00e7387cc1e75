import { describe, expect, it } from 'vitest';
import { createMetrics, observeCallLatency } from '../../src/metrics.js';

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
});
