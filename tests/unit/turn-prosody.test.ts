import { describe, expect, it } from 'vitest';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import { CallerAudioTail } from '../../src/call/caller-audio-tail.js';
import { pitchVerdict } from '../../src/call/end-of-turn.js';
import { prosodyOf } from '../../src/call/prosody.js';
import { RECOGNIZER_GRACE_MS } from '../../src/call/turn-taking.js';
import type { Clock } from '../../src/call/types.js';

/** A voiced sound: five harmonics of an F0 that moves linearly from `fromHz` to `toHz` over `ms`. */
function voiced(ms: number, fromHz: number, toHz: number, rate = 16000, amplitude = 6000): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const f0 = fromHz + ((toHz - fromHz) * i) / n;
    phase += (2 * Math.PI * f0) / rate;
    let s = 0;
    for (let h = 1; h <= 5; h++) s += Math.sin(h * phase) / h;
    out[i] = Math.round(amplitude * s * 0.5);
  }
  return out;
}

function noise(ms: number, rate = 16000): Int16Array {
  let seed = 7;
  return Int16Array.from({ length: (ms * rate) / 1000 }, () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed % 8000) - 4000;
  });
}

const concat = (...xs: Int16Array[]): Int16Array => {
  const out = new Int16Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

describe('prosody of the end of an utterance', () => {
  it('a statement that falls into its end reads as falling', () => {
    const p = prosodyOf(concat(voiced(600, 200, 190), voiced(400, 190, 140)), 16000);
    expect(p.medianHz).toBeGreaterThan(170);
    expect(p.medianHz).toBeLessThan(200);
    expect(p.finalSlopeSt).toBeLessThan(-2);
    expect(p.finalVsMedianSt).toBeLessThan(-1);
    expect(pitchVerdict(p)).toBe('falling');
  });

  it('a level or rising end (more to come, or a question) does not', () => {
    expect(pitchVerdict(prosodyOf(voiced(1000, 180, 182), 16000))).toBe('level');
    expect(pitchVerdict(prosodyOf(concat(voiced(700, 180, 180), voiced(300, 180, 230)), 16000))).toBe('level');
  });

  it('works on 8 kHz telephone audio too', () => {
    const p = prosodyOf(concat(voiced(600, 200, 190, 8000), voiced(400, 190, 140, 8000)), 8000);
    expect(pitchVerdict(p)).toBe('falling');
    expect(pitchVerdict(prosodyOf(voiced(1000, 150, 150, 8000), 8000))).toBe('level');
  });

  it('noise, silence and too short a voiced stretch tell nothing', () => {
    expect(pitchVerdict(prosodyOf(noise(1000), 16000))).toBeNull();
    expect(pitchVerdict(prosodyOf(new Int16Array(16000), 16000))).toBeNull();
    expect(pitchVerdict(prosodyOf(voiced(40, 200, 150), 16000))).toBeNull();
  });

  it('a quiet tail after the voiced end is ignored (the end is the last loud voiced audio)', () => {
    const p = prosodyOf(concat(voiced(600, 200, 190), voiced(400, 190, 140), voiced(60, 140, 140, 16000, 40)), 16000);
    expect(pitchVerdict(p)).toBe('falling');
  });
});

describe('the caller audio tail', () => {
  function clockAt(): { clock: Clock; set: (t: number) => void } {
    let now = 0;
    return { clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => {} }, set: (t) => void (now = t) };
  }

  it('maps a clock time back to the audio that ended then (16 kHz PCM frames)', () => {
    const { clock, set } = clockAt();
    const tail = new CallerAudioTail({ encoding: 'pcm16', sampleRate: 16000 }, clock);
    // 300 frames of 20 ms; frame k holds the value k and arrives at 1000 + 20 k.
    for (let k = 0; k < 300; k++) {
      set(1000 + 20 * k);
      tail.push(pcm16ToBytes(new Int16Array(320).fill(k)));
    }
    const a = tail.endingAt(1000 + 20 * 289, 100); // ten frames before the newest one
    expect(a.length).toBe(1600);
    expect(a[a.length - 1]).toBe(289);
    expect(a[0]).toBe(285);
    // Only the last 4.5 s is kept: the analysed second, the recognizer's grace, and room for the VAD's delay.
    expect(tail.endingAt(1000 + 20 * 299, 9000).length).toBe(72000);
    expect(tail.endingAt(1000 + 20 * 299, 9000)[0]).toBe(75);
  });

  it('still holds the end of speech when the pitch is read as late as the recognizer may answer', () => {
    const { clock, set } = clockAt();
    const tail = new CallerAudioTail({ encoding: 'mulaw', sampleRate: 8000 }, clock);
    const speech = concat(voiced(600, 200, 190, 8000), voiced(400, 190, 140, 8000));
    let k = 0;
    for (let o = 0; o < speech.length; o += 160, k++) {
      set(20 * k);
      tail.push(mulawEncode(speech.subarray(o, o + 160)));
    }
    const endAt = clock.now();
    // The VAD's 200 ms, then the whole grace for the recognizer's final, in silence.
    const silence = mulawEncode(new Int16Array(160));
    for (const until = endAt + 200 + RECOGNIZER_GRACE_MS; clock.now() < until; k++) {
      set(20 * k);
      tail.push(silence);
    }
    expect(pitchVerdict(tail.prosodyEndingAt(endAt))).toBe('falling');
  });

  it('decodes μ-law (8 kHz Twilio) into the ring', () => {
    const { clock, set } = clockAt();
    const tail = new CallerAudioTail({ encoding: 'mulaw', sampleRate: 8000 }, clock);
    const speech = concat(voiced(600, 200, 190, 8000), voiced(400, 190, 140, 8000));
    for (let o = 0, k = 0; o < speech.length; o += 160, k++) {
      set(20 * k);
      tail.push(mulawEncode(speech.subarray(o, o + 160)));
    }
    expect(pitchVerdict(tail.prosodyEndingAt(clock.now()))).toBe('falling');
    // Nothing held yet at that time: nothing to judge.
    expect(tail.prosodyEndingAt(-5000)).toBeNull();
  });
});
