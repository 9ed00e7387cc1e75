/**
 * Caller audio is taken at most as fast as it is spoken, plus a burst a network stall may deliver at once: a web
 * page flooding the socket gets real time and no more (the rest is refused and counted as malformed frames).
 */
import { describe, expect, it } from 'vitest';
import { RealtimeAudioBudget } from '../../src/telephony/realtime-budget.js';
import { WebCallTransport } from '../../src/telephony/web/web-transport.js';

const FRAME_20MS = 640; // 16 kHz PCM16

describe('realtime audio budget', () => {
  it('admits a burst, then real time only', () => {
    let now = 0;
    const budget = new RealtimeAudioBudget(32, () => now, 1_000);
    let admitted = 0;
    for (let i = 0; i < 200; i++) if (budget.admit(FRAME_20MS)) admitted++;
    expect(admitted).toBe(50); // the 1 s burst
    now += 500;
    admitted = 0;
    for (let i = 0; i < 200; i++) if (budget.admit(FRAME_20MS)) admitted++;
    expect(admitted).toBe(25); // 500 ms of wall time
    // A caller speaking in real time is never refused.
    for (let i = 0; i < 1_000; i++) {
      now += 20;
      expect(budget.admit(FRAME_20MS)).toBe(true);
    }
    // A pause does not bank more than the burst.
    now += 60_000;
    admitted = 0;
    for (let i = 0; i < 200; i++) if (budget.admit(FRAME_20MS)) admitted++;
    expect(admitted).toBe(50);
  });

  it('a web call hands the loop no more audio than real time plus the burst; the rest counts as malformed', () => {
    let now = 0;
    const malformed: string[] = [];
    const ws = { readyState: 1, OPEN: 1, send: () => {} };
    const t = new WebCallTransport(ws as never, (why) => malformed.push(why), () => now);
    let frames = 0;
    t.attach({ onAudio: () => frames++, onText: () => {}, onDtmf: () => {}, onMark: () => {}, onClose: () => {} } as never);
    const frame = new Uint8Array(FRAME_20MS);
    // 10 minutes of audio sent in 10 s of wall time.
    for (let i = 0; i < 30_000; i++) {
      if (i % 3_000 === 0) now += 1_000;
      t.receiveAudio(frame);
    }
    expect(frames).toBe((5_000 + 9_000) / 20); // 5 s burst + 9 s of wall time after the first frame
    expect(malformed.length).toBe(30_000 - frames);
    expect(new Set(malformed)).toEqual(new Set(['audio faster than real time']));
  });
});
