import { describe, expect, it } from 'vitest';
import { CallerTurnTracker } from '../../src/call/turn-taking.js';
import type { Clock } from '../../src/call/types.js';

function tracker(limits = { bargeInMinMs: 300, bargeInMinWords: 2 }) {
  let now = 1000;
  const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  return { t: new CallerTurnTracker(limits, clock), tick: (ms: number) => void (now += ms) };
}

describe('CallerTurnTracker', () => {
  it('joins finals until the end of the utterance and measures the endpoint delay', () => {
    const { t, tick } = tracker();
    t.handle({ type: 'speech_started', atMs: 0 });
    tick(200);
    t.handle({ type: 'interim', text: 'I would' });
    tick(300);
    t.handle({ type: 'final', text: 'I would like', endOfUtterance: false });
    expect(t.check()).toBeNull();
    tick(400);
    t.handle({ type: 'interim', text: 'a haircut' });
    tick(350);
    t.handle({ type: 'final', text: 'a haircut', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'I would like a haircut', endpointMs: 350 });
    expect(t.hasWords).toBe(false);
  });

  it('closes on utterance_end, keeping words still only interim', () => {
    const { t } = tracker();
    t.handle({ type: 'final', text: 'yes', endOfUtterance: false });
    t.handle({ type: 'interim', text: 'please' });
    t.handle({ type: 'utterance_end' });
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('yes please');
    t.handle({ type: 'utterance_end' });
    expect(t.check()).toBeNull();
  });

  it('interrupts on enough words, or one real word held long enough, never on fillers or noise', () => {
    const { t, tick } = tracker();
    t.handle({ type: 'speech_started', atMs: 0 });
    tick(1000);
    expect(t.isInterruption()).toBe(false); // noise: no words
    t.handle({ type: 'interim', text: 'uh-huh' });
    expect(t.isInterruption()).toBe(false);
    t.handle({ type: 'interim', text: 'uh-huh yeah' });
    expect(t.isInterruption()).toBe(false);
    t.handle({ type: 'interim', text: 'uh-huh yeah wait' });
    expect(t.isInterruption()).toBe(true); // one word, speech longer than 300 ms
    t.reset();
    t.handle({ type: 'speech_started', atMs: 0 });
    t.handle({ type: 'interim', text: 'stop' });
    expect(t.isInterruption()).toBe(false);
    expect(t.msUntilTimeCriterion()).toBe(300);
    t.handle({ type: 'interim', text: 'stop please' });
    expect(t.isInterruption()).toBe(true);
  });

  it('with bargeInMinWords 0, any speech longer than bargeInMinMs interrupts', () => {
    const { t, tick } = tracker({ bargeInMinMs: 200, bargeInMinWords: 0 });
    t.handle({ type: 'speech_started', atMs: 0 });
    tick(199);
    expect(t.isInterruption()).toBe(false);
    tick(1);
    expect(t.isInterruption()).toBe(true);
  });
});
