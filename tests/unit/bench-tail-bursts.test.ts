import { describe, expect, it } from 'vitest';
import { tailBursts, type TurnBreakdown } from '../../scripts/bench/lib/turn-trace.js';

function turn(serverAdded: number, worstHopAt: number): TurnBreakdown {
  return {
    toFinalize: serverAdded, toLlm: 0, toTts: 0, toCaller: 0, serverAdded, endSilence: 200, sttFinal: 150,
    llmFirstToken: 300, ttsFirstAudio: 90, voiceToVoice: 740 + serverAdded, worstHopAt, worstHop: 'toFinalize',
  };
}

describe('the benchmark\'s tail bursts', () => {
  it('takes the worst share of turns and groups them by when their largest hop began', () => {
    const quiet = Array.from({ length: 380 }, (_, i) => turn(5, i * 100));
    // One stall at 10 s held three turns, another at 30 s held one; a slow turn at 20 s stands alone.
    const tail = [turn(60, 10_000), turn(55, 10_120), turn(50, 10_300), turn(40, 20_000)];
    const { worst, bursts } = tailBursts([...quiet, ...tail], 0.01);
    expect(worst.map((t) => t.serverAdded)).toEqual([60, 55, 50, 40]);
    expect(bursts.map((b) => b.map((t) => t.worstHopAt))).toEqual([[10_000, 10_120, 10_300], [20_000]]);
  });
});
