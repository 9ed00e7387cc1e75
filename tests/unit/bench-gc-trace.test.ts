import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fullCollections, parseGcTrace, readGcTraces } from '../../scripts/bench/lib/gc-trace.js';

describe('bench:calls --gc-trace', () => {
  it('reads every process\'s trace and skips what is not a line of one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-trace-'));
    writeFileSync(join(dir, 'trace.101'), '1000.5 gc 1 4.20\n1200.0 gap 31.5\n');
    writeFileSync(join(dir, 'trace.202'), '1100.0 gc 4 19.60\ngarbage\n1150 gc 4\n');
    writeFileSync(join(dir, 'trace.txt'), '900 gc 4 99\n');
    expect(readGcTraces(join(dir, 'trace'))).toEqual([
      { at: 1000.5, what: 'gc', kind: 1, ms: 4.2 },
      { at: 1100, what: 'gc', kind: 4, ms: 19.6 },
      { at: 1200, what: 'gap', kind: 0, ms: 31.5 },
    ]);
    expect(parseGcTrace('')).toEqual([]);
  });

  it('sets each full collection in the load beside the loop stall and the worst turns near it', () => {
    const events = parseGcTrace([
      '500 gc 4 30', // before the load: not counted
      '10000 gap 12', '10150 gap 51.3', '10210 gc 8 0.8', '10250 gc 4 19.8', '10260 gap 64.3', '10900 gap 80', // 650 ms after: not near
      '20000 gc 1 5', // a scavenge is not a full collection
      '30000 gc 4 13',
    ].join('\n'));
    const worst = [10100, 10249, 10400, 10600, 29800, 45000];
    expect(fullCollections(events, worst, 1000, 40000)).toEqual([
      { at: 10250, pauseMs: 19.8, loopHeldMs: 64.3, worstTurns: 3 },
      { at: 30000, pauseMs: 13, loopHeldMs: 0, worstTurns: 1 },
    ]);
  });
});
