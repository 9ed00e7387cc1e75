import { describe, expect, it } from 'vitest';
import { RuleEndOfTurn } from '../../src/call/end-of-turn.js';
import type { ProsodyFeatures } from '../../src/call/prosody.js';
import { CallerTurnTracker, type ProsodyReader } from '../../src/call/turn-taking.js';
import type { Clock } from '../../src/call/types.js';

const rules = new RuleEndOfTurn();
const FALLING: ProsodyFeatures = { voicedWindows: 60, finalSlopeSt: -2, finalVsMedianSt: -1.5, medianHz: 180 };
const LEVEL: ProsodyFeatures = { voicedWindows: 60, finalSlopeSt: 0.1, finalVsMedianSt: 0, medianHz: 180 };
const RISING: ProsodyFeatures = { voicedWindows: 60, finalSlopeSt: 2.5, finalVsMedianSt: 2, medianHz: 180 };
const TOO_LITTLE: ProsodyFeatures = { voicedWindows: 3, finalSlopeSt: null, finalVsMedianSt: null, medianHz: null };

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
    // the recognizer's "four" for "for" at a pause: not sure either way
    ["i'd like to book four", 'uncertain'],
    ['is it possible two', 'uncertain'],
    ['a table for two', 'uncertain'],
    ['one two', 'complete'],
    // a turn that is only an opener has not begun; the same word ending a sentence has
    ['well', 'unfinished'],
    ['actually', 'unfinished'],
    ["i'm doing well", 'complete'],
    ['i would prefer a doctor who', 'unfinished'],
    ['who', 'complete'],
    ['okay see you then', 'complete'],
    ['room 12 four', 'complete'],
  ])('en: "%s" is %s', (text, expected) => {
    expect(rules.judge({ text, language: 'en' }).completeness).toBe(expected);
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
    ['ну вот', 'unfinished'],
    ['мне нужен врач который', 'unfinished'],
    ['где', 'complete'],
  ])('ru: "%s" is %s', (text, expected) => {
    expect(rules.judge({ text, language: 'ru' }).completeness).toBe(expected);
  });
});

describe('end-of-turn score: text + pitch of the last voiced audio + recognizer confidence', () => {
  it.each([
    // words that read complete: the pitch decides between answering now and a short extra wait
    ['i would like a checkup', FALLING, null, 'complete'],
    ['i would like a checkup', LEVEL, null, 'uncertain'],
    ['i would like a checkup', RISING, null, 'uncertain'],
    ['i would like a checkup', TOO_LITTLE, null, 'complete'],
    ['i would like a checkup', null, null, 'complete'],
    // a rise is how many questions end: not held against a question
    ['do you take new patients', RISING, null, 'complete'],
    ['how long will it take', LEVEL, null, 'complete'],
    // a punctuating recognizer's full stop outweighs a level pitch
    ['I would like a checkup.', LEVEL, null, 'complete'],
    // an unfinished text is never rescued by the pitch alone
    ["i'd like to book for", FALLING, null, 'unfinished'],
    ['my number is five five five', FALLING, null, 'unfinished'],
    // the recognizer unsure of its final: a short extra wait, and with a level pitch the full one
    ['i would like a checkup', FALLING, 0.4, 'uncertain'],
    ['i would like a checkup', null, 0.4, 'uncertain'],
    ['i would like a checkup', LEVEL, 0.4, 'unfinished'],
    ['i would like a checkup', LEVEL, 0.9, 'uncertain'],
  ] as const)('"%s" with pitch %j and confidence %s is %s', (text, prosody, confidence, expected) => {
    const v = rules.judge({ text, language: 'en', prosody, confidence });
    expect(v.completeness).toBe(expected);
    expect(v.score).toBeGreaterThanOrEqual(0);
    expect(v.score).toBeLessThanOrEqual(1);
  });

  it('ru: a question word keeps a rising end complete; a level statement waits', () => {
    expect(rules.judge({ text: 'когда вы открываетесь', language: 'ru', prosody: RISING }).completeness).toBe('complete');
    expect(rules.judge({ text: 'запишите меня на вторник', language: 'ru', prosody: LEVEL }).completeness).toBe('uncertain');
    expect(rules.judge({ text: 'запишите меня на вторник', language: 'ru', prosody: FALLING }).completeness).toBe('complete');
    expect(rules.judge({ text: 'я хочу записаться на', language: 'ru', prosody: FALLING }).completeness).toBe('unfinished');
  });

  it('says why, rule by rule', () => {
    expect(rules.judge({ text: 'i would like a checkup', language: 'en', prosody: LEVEL, confidence: 0.3 }).rule).toBe(
      'ends on a content word; pitch not falling; recognizer unsure (0.30)',
    );
  });
});

function tracker(language: 'en' | 'ru' = 'en', readProsody: ProsodyReader | null = null) {
  let now = 10_000;
  const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  const limits = { bargeInMinMs: 300, bargeInMinWords: 2, endOfTurnCompleteWaitMs: 0, endOfTurnMaxWaitMs: 1500 };
  const t = new CallerTurnTracker(limits, clock, language, undefined, readProsody);
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

  it('reads the pitch once per end of speech, at the VAD\'s end, and waits the uncertain share when it is level', () => {
    const reads: number[] = [];
    const { t, at } = tracker('en', (endAt) => (reads.push(endAt), LEVEL));
    t.voice({ type: 'onset', at: 10_000 });
    at(1400);
    t.voice({ type: 'end', at: 11_200 });
    t.handle({ type: 'final', text: 'i need an appointment', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 700 }); // 0.6 × 1500 = 900 ms after the end of speech
    at(1700);
    expect(t.check()).toEqual({ waitMs: 400 });
    expect(reads).toEqual([11_200]);
    at(2100);
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'i need an appointment', endpointMs: 900, rule: 'ends on a content word; pitch not falling' });
    expect(reads).toEqual([11_200]);
  });

  it('a pause that does not sound final is bridged: the caller goes on within the wait and it is one turn', () => {
    const { t, at } = tracker('en', () => LEVEL);
    t.voice({ type: 'onset', at: 10_000 });
    at(1400);
    t.voice({ type: 'end', at: 11_200 });
    t.handle({ type: 'final', text: 'i need an appointment', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 700 });
    at(2000);
    t.voice({ type: 'onset', at: 11_900 });
    expect(t.check()).toBeNull();
    at(3000);
    t.voice({ type: 'end', at: 12_800 });
    t.handle({ type: 'final', text: 'for my son', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 700 }); // read again for the new end: still level
  });

  it('a falling end closes at once; a new end of speech is listened to afresh', () => {
    const pitches = [LEVEL, FALLING];
    const reads: number[] = [];
    const { t, at } = tracker('en', (endAt) => (reads.push(endAt), pitches[reads.length - 1]!));
    t.voice({ type: 'onset', at: 10_000 });
    at(1000);
    t.voice({ type: 'end', at: 10_800 });
    t.handle({ type: 'final', text: 'i need an appointment', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 700 });
    at(1300);
    t.voice({ type: 'onset', at: 11_300 });
    at(2200);
    t.voice({ type: 'end', at: 12_000 });
    t.handle({ type: 'final', text: 'for my son', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'i need an appointment for my son', endpointMs: 200 });
    expect(reads).toEqual([10_800, 12_000]);
  });

  it('without a VAD (the recognizer decides when speech ended) the pitch is not read', () => {
    const reads: number[] = [];
    const { t, at } = tracker('en', (endAt) => (reads.push(endAt), LEVEL));
    at(500);
    t.handle({ type: 'interim', text: 'i need an appointment' });
    at(900);
    t.handle({ type: 'final', text: 'i need an appointment', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close.rule : null).toBe('ends on a content word');
    expect(reads).toEqual([]);
  });

  it('a recognizer that reports a low confidence on its final earns a short extra wait', () => {
    const { t, at } = tracker('en', () => FALLING);
    t.voice({ type: 'onset', at: 10_000 });
    at(1200);
    t.voice({ type: 'end', at: 11_000 });
    t.handle({ type: 'final', text: 'i like to but far', endOfUtterance: true, confidence: 0.35 } as never);
    expect(t.check()).toEqual({ waitMs: 700 });
  });
});
