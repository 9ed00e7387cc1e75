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
    // a whole phone number said: no reason to wait for more
    ['seven one eight five five five zero one one one', 'complete'],
    ['my number is 212 555 0142', 'complete'],
    ['two one two five five five double one four', 'unfinished'],
    ['two one two five five five double one four two', 'complete'],
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
    // a number begun: one or two digits after a code noun, or one digit right after "is"
    ['my phone number is five five', 'unfinished'],
    ['the code on my letter is seven', 'unfinished'],
    ['my account 42', 'unfinished'],
    ['the price is twenty', 'complete'],
    ['my son is five five years old', 'complete'],
    // spelling, and a lone letter the pause cut from a word
    ['it is s m i', 'unfinished'],
    ['could i book a cleaning n', 'uncertain'],
    ['plan b', 'uncertain'],
    ['b', 'complete'],
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
    ['номер заказа семь', 'unfinished'],
    ['записала семь', 'complete'],
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
    const v = rules.judge({ text, language: 'en', readProsody: () => prosody, confidence });
    expect(v.completeness).toBe(expected);
    expect(v.score).toBeGreaterThanOrEqual(0);
    expect(v.score).toBeLessThanOrEqual(1);
  });

  it('ru: a question word keeps a rising end complete; a level statement waits', () => {
    expect(rules.judge({ text: 'когда вы открываетесь', language: 'ru', readProsody: () => RISING }).completeness).toBe('complete');
    expect(rules.judge({ text: 'запишите меня на вторник', language: 'ru', readProsody: () => LEVEL }).completeness).toBe('uncertain');
    expect(rules.judge({ text: 'запишите меня на вторник', language: 'ru', readProsody: () => FALLING }).completeness).toBe('complete');
    expect(rules.judge({ text: 'я хочу записаться на', language: 'ru', readProsody: () => FALLING }).completeness).toBe('unfinished');
  });

  it('reads the pitch only where it could change the verdict', () => {
    const reads: string[] = [];
    const judge = (text: string, confidence: number | null = null) =>
      rules.judge({ text, language: 'en', confidence, readProsody: () => (reads.push(text), LEVEL) });
    // The words decide: a full stop stays complete even with a level pitch; an unfinished text stays unfinished.
    expect(judge('I would like a checkup.').completeness).toBe('complete');
    expect(judge('Do you take new patients?').completeness).toBe('complete');
    expect(judge("i'd like to book for").completeness).toBe('unfinished');
    expect(reads).toEqual([]);
    // A content word, or a full stop the recognizer is unsure of: the pitch decides.
    expect(judge('i would like a checkup').completeness).toBe('uncertain');
    expect(judge('I would like a checkup.', 0.4).completeness).toBe('unfinished');
    expect(reads).toEqual(['i would like a checkup', 'I would like a checkup.']);
  });

  it('says why, rule by rule', () => {
    expect(rules.judge({ text: 'i would like a checkup', language: 'en', readProsody: () => LEVEL, confidence: 0.3 }).rule).toBe(
      'ends on a content word; pitch not falling (+0.1 st over the end, 0.0 st against the median); recognizer unsure (0.30)',
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

  it('a segmenting recognizer still decoding the caller\'s next words holds the turn open, however the first part reads', () => {
    const { t, at } = tracker();
    t.handle({ type: 'speech_started', atMs: 0, segmented: true });
    t.voice({ type: 'onset', at: 10_000 });
    at(1200);
    t.voice({ type: 'end', at: 11_000 }); // "I think I left my umbrella in" … a pause
    at(1900);
    t.handle({ type: 'speech_started', atMs: 1900, segmented: true }); // "… the waiting room"
    t.voice({ type: 'onset', at: 11_900 });
    at(2100);
    // the first part's final arrives late, while the caller speaks on, and reads complete
    t.handle({ type: 'final', text: 'i think i live nine billion', endOfUtterance: true });
    at(2800);
    t.voice({ type: 'end', at: 12_600 });
    const waiting = t.check();
    expect(waiting && 'waitMs' in waiting).toBe(true); // not closed on the first part: its second final is owed
    at(3300);
    t.handle({ type: 'final', text: 'the waiting room', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('i think i live nine billion the waiting room');
  });

  it('a recognizer that does not segment (Deepgram) is not waited for after a speech start it may never answer', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(1000);
    t.handle({ type: 'final', text: 'when do you open', endOfUtterance: true });
    t.handle({ type: 'speech_started', atMs: 1000 }); // a breath after the words: Deepgram may send nothing more
    at(1200);
    t.voice({ type: 'end', at: 11_000 });
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('when do you open');
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
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'i need an appointment', endpointMs: 900, rule: 'ends on a content word; pitch not falling (+0.1 st over the end, 0.0 st against the median)' });
    expect(reads).toEqual([11_200]);
  });

  it('reads the pitch once the recognizer\'s final is in, and not at all when its punctuation decides', () => {
    const reads: number[] = [];
    const { t, at } = tracker('en', (endAt) => (reads.push(endAt), LEVEL));
    t.voice({ type: 'onset', at: 10_000 });
    at(800);
    t.handle({ type: 'interim', text: 'i need an' });
    at(1400);
    t.voice({ type: 'end', at: 11_200 });
    // The interim words are not the caller's last: nothing is judged (nor listened to) until the final.
    expect(t.check()).toEqual({ waitMs: 2300 }); // the recognizer's grace: 11_200 + 2500 − 11_400
    expect(reads).toEqual([]);
    at(1600);
    t.handle({ type: 'final', text: 'i need an appointment', endOfUtterance: true });
    expect(t.check()).toEqual({ waitMs: 500 }); // level: the uncertain share, 900 ms after the end of speech
    expect(reads).toEqual([11_200]);

    const punctuated = tracker('en', (endAt) => (reads.push(endAt), LEVEL));
    punctuated.t.voice({ type: 'onset', at: 10_000 });
    punctuated.at(1400);
    punctuated.t.voice({ type: 'end', at: 11_200 });
    punctuated.at(1600);
    punctuated.t.handle({ type: 'final', text: 'I need an appointment.', endOfUtterance: true });
    const d = punctuated.t.check();
    expect(d && 'close' in d ? d.close.rule : null).toBe('sentence punctuation');
    expect(reads).toEqual([11_200]);
  });

  it('with no final from the recognizer, closes on the words at hand when the grace runs out, the pitch heard', () => {
    const reads: number[] = [];
    const { t, at } = tracker('en', (endAt) => (reads.push(endAt), FALLING));
    t.voice({ type: 'onset', at: 10_000 });
    at(800);
    t.handle({ type: 'interim', text: 'i need an appointment' });
    at(1400);
    t.voice({ type: 'end', at: 11_200 });
    expect(t.check()).toEqual({ waitMs: 2300 });
    at(3700);
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'i need an appointment', endpointMs: 2500 });
    expect(d && 'close' in d ? d.close.rule : null).toMatch(/^ends on a content word; pitch falls into the end .*; no final from the recognizer$/);
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

/** What stt-connection.ts passes on when a recognizer session is lost and a new one is opened. */
const SESSION_LOST = { type: 'error', error: new Error('socket dropped'), recoverable: true } as const;

describe('a recognizer session replaced mid-utterance', () => {
  it('keeps the words the lost session recognised; the new session\'s words follow them in the same turn', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(300);
    t.handle({ type: 'final', text: 'hi', endOfUtterance: false }); // Deepgram: is_final, the utterance goes on
    at(900);
    t.handle({ type: 'interim', text: 'i would like to book' });
    at(1000);
    t.handle(SESSION_LOST); // the caller is still speaking
    expect(t.pendingText).toBe('hi i would like to book');
    expect(t.recognizerDone).toBe(false); // the new session hears the rest and owes its final
    at(1600);
    t.handle({ type: 'interim', text: 'a haircut' }); // the new session's first words
    at(2400);
    t.voice({ type: 'end', at: 12_200 });
    expect(t.check()).toEqual({ waitMs: 2300 });
    at(2500);
    t.handle({ type: 'final', text: 'a haircut tomorrow at three', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('hi i would like to book a haircut tomorrow at three');
  });

  it('a session lost after the caller stopped: the turn closes on its words, not after a final that will never come', () => {
    const { t, at } = tracker();
    t.voice({ type: 'onset', at: 10_000 });
    at(900);
    t.handle({ type: 'interim', text: 'when do you open' });
    at(1200);
    t.voice({ type: 'end', at: 11_000 });
    expect(t.check()).toEqual({ waitMs: 2300 }); // the recognizer's final is awaited
    at(1300);
    t.handle(SESSION_LOST);
    const d = t.check();
    expect(d && 'close' in d ? d.close : null).toMatchObject({ text: 'when do you open', endpointMs: 300 });
  });

  it('finals a lost segmenting session owed are not awaited in later turns', () => {
    const { t, at } = tracker();
    t.handle({ type: 'speech_started', atMs: 0, segmented: true });
    t.voice({ type: 'onset', at: 10_000 });
    at(800);
    t.voice({ type: 'end', at: 10_600 });
    at(900);
    t.handle(SESSION_LOST); // the segment was being decoded: its final will never come
    expect(t.check()).toBeNull();
    at(5000);
    t.handle({ type: 'speech_started', atMs: 0, segmented: true }); // the new session's
    t.voice({ type: 'onset', at: 15_000 });
    at(6200);
    t.voice({ type: 'end', at: 16_000 });
    t.handle({ type: 'final', text: 'when do you open', endOfUtterance: true });
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('when do you open');
  });

  it('without a VAD, a lost session\'s words close the turn when the grace runs out, unless the new session goes on', () => {
    const { t, at } = tracker();
    at(900);
    t.handle({ type: 'interim', text: 'when do you open' });
    at(1000);
    t.handle(SESSION_LOST);
    expect(t.check()).toEqual({ waitMs: 2400 });
    at(3400);
    const d = t.check();
    expect(d && 'close' in d ? d.close.text : null).toBe('when do you open');

    const goesOn = tracker();
    goesOn.at(900);
    goesOn.t.handle({ type: 'interim', text: 'i would like to book' });
    goesOn.at(1000);
    goesOn.t.handle(SESSION_LOST);
    goesOn.at(1800);
    goesOn.t.handle({ type: 'interim', text: 'a haircut' });
    goesOn.at(4000);
    expect(goesOn.t.check()).toBeNull(); // the new session's endpointing decides, as for any words of its own
    goesOn.t.handle({ type: 'final', text: 'a haircut', endOfUtterance: true });
    const joined = goesOn.t.check();
    expect(joined && 'close' in joined ? joined.close.text : null).toBe('i would like to book a haircut');
  });
});
