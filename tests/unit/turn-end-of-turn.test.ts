import { describe, expect, it } from 'vitest';
import { RuleEndOfTurn } from '../../src/call/end-of-turn.js';
import { CallerTurnTracker } from '../../src/call/turn-taking.js';
import type { Clock } from '../../src/call/types.js';

const rules = new RuleEndOfTurn();

describe('end-of-turn rules', () => {
  it.each([
    ['what are your opening hours', 'complete'],
    ['I would like a cleaning on Tuesday.', 'complete'],
    ['thank you', 'complete'],
    ['yes please', 'complete'],
    ["I'd like to book for", 'unfinished'],
    ['um', 'unfinished'],
    ['a cleaning and', 'unfinished'],
    ['my number is five five five', 'unfinished'],
    ['my number is', 'unfinished'],
    ['let me think…', 'unfinished'],
    ['so,', 'unfinished'],
  ])('en: "%s" is %s', (text, expected) => {
    expect(rules.judge(text, 'en').completeness).toBe(expected);
  });

  it.each([
    ['когда вы открываетесь', 'complete'],
    ['запишите меня на вторник', 'complete'],
    ['спасибо', 'complete'],
    ['я хочу записаться в', 'unfinished'],
    ['на', 'unfinished'],
    ['э', 'unfinished'],
    ['мой номер девять один шесть', 'unfinished'],
    ['стрижку и', 'unfinished'],
  ])('ru: "%s" is %s', (text, expected) => {
    expect(rules.judge(text, 'ru').completeness).toBe(expected);
  });
});

function tracker(language: 'en' | 'ru' = 'en') {
  let now = 10_000;
  const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const t = new CallerTurnTracker({ bargeInMinMs: 300, bargeInMinWords: 2, endOfTurnCompleteWaitMs: 0, endOfTurnMaxWaitMs: 1500 }, clock, language);
  return { t, at: (ms: number) => void (now = 10_000 + ms) };
}

describe('end of turn from VAD + recognizer + text', () => {
  it('a complete sentence closes as soon as the recognizer has it, measured from the VAD end of speech', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(1200);
    t.voice({ type: 'end', at: 11_000 }); // reported 200 ms after the last voiced audio
    expect(t.check()).toBeNull(); // no words yet: the recognizer has the say
    at(1900); // the local recognizer's final, late
    t.handle({ type: 'final', text: 'when do you open', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'when do you open', endpointMs: 900, speechStartedAt: 10_000, speechEndedAt: 11_000, sttFinalAt: 11_900 });
  });

  it('an unfinished sentence waits up to endOfTurnMaxWaitMs, and a new onset cancels the wait', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(1000);
    t.handle({ type: 'interim', text: "I'd like to book for" });
    at(1200);
    t.voice({ type: 'end', at: 11_000 });
    at(1300);
    t.handle({ type: 'final', text: "I'd like to book for", endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 1200 }); // 11_000 + 1500 − 11_300
    at(1900);
    t.voice({ type: 'onset', at: 11_900 }); // the caller goes on
    expect(t.check()).toBeNull();
    at(3000);
    t.voice({ type: 'end', at: 12_800 });
    t.handle({ type: 'final', text: 'Tuesday at three', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: "I'd like to book for Tuesday at three", endpointMs: 200 });
  });

  it('an unfinished sentence still closes when the caller stays quiet for the whole wait (ru)', () => {
    const { t, at } = tracker('ru');
    t.voice({ type: 'onset', at: 10_000 });
    at(900);
    t.voice({ type: 'end', at: 10_700 });
    t.handle({ type: 'final', text: 'я хочу записаться на', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 1300 });
    at(2200);
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'я хочу записаться на', endpointMs: 1500 });
  });

  it('noise the recognizer finalises without words is forgotten', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(400);
    t.voice({ type: 'end', at: 10_200 });
    t.handle({ type: 'utterance_end' });
    expect(t.check()).toBeNull();
    expect(t.speechStartedAt).toBeNull();
  });
});
