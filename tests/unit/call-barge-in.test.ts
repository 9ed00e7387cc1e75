/** Barge-in and end of turn through a whole CallSession, driven by scripted VAD and STT timelines (fake time). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CallLimits } from '../../src/bots/config-schema.js';
import { ScriptedLlm, ScriptedTts, ScriptedVoice } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const ANSWER = 'We are open from nine to five on weekdays. On Saturdays we open at ten and close at two. On Sundays we are closed.';

function harness(limits: Partial<CallLimits> = {}) {
  const voice = new ScriptedVoice();
  const { transport, stt, llm, tts, recorder, session } = testCallSession({
    llm: new ScriptedLlm(() => ANSWER, { firstTokenMs: 100, tokenMs: 10 }),
    tts: new ScriptedTts({ firstAudioMs: 50, chunkMs: 10 }),
    limits: { silenceRepromptSec: 120, silenceHangupSec: 600, ...limits },
    session: { callerVoice: voice.factory },
  });
  const done = session.start();
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
  /** The caller asks something; the bot is then speaking its long answer. */
  const ask = async () => {
    await advance(2000);
    voice.onset();
    await advance(800);
    voice.end(200);
    stt.emit({ type: 'final', text: 'what are your hours', endOfUtterance: true });
    await advance(4000); // answer playing: its first sentence (2.7 s) heard
  };
  const bots = () => recorder.turns.filter((t) => t.role === 'bot');
  return { transport, stt, voice, llm, tts, recorder, session, done, advance, ask, bots };
}

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => void vi.useRealTimers());

describe('barge-in: react to voice, confirm with words', () => {
  it('a caller onset clears the line at once, before any word is recognised', async () => {
    const h = harness();
    await h.ask();
    expect(h.session.state).toBe('speaking');
    const clears = h.transport.count('clear');
    h.voice.onset(90); // the VAD needed 90 ms of speech to say so
    expect(h.transport.count('clear')).toBe(clears + 1); // synchronously: no timer, no words needed
    expect(h.session.state).toBe('paused');
    const audioAtPause = h.transport.audioBytes();
    await h.advance(500);
    expect(h.transport.audioBytes()).toBe(audioAtPause); // nothing sent while paused
    expect(h.llm.aborted).toBe(0); // not committed yet
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('an unconfirmed onset (a cough) resumes from the first slice the caller did not hear, repeating nothing', async () => {
    const h = harness();
    await h.ask();
    const heardBefore = [...h.transport.playedMarks];
    h.voice.onset(70);
    const sentAtPause = h.transport.sent.filter((s) => s.type === 'mark').length;
    await h.advance(250);
    h.voice.end(200);
    h.stt.emit({ type: 'utterance_end' }); // the recognizer: no words
    await h.advance(10);
    expect(h.session.state).toBe('speaking');
    const resent = h.transport.sent.filter((s) => s.type === 'mark').slice(sentAtPause).map((s) => (s as { name: string }).name);
    // The first mark sent after the resume is the slice right after the last one heard before the onset.
    const lastHeard = heardBefore.at(-1)!;
    const [phrase, slice] = lastHeard.replace(/^t\d+-/, '').split('.').map(Number);
    const next = resent[0]!.replace(/~\d+$/, '');
    const [p2, s2] = next.replace(/^t\d+-/, '').split('.').map(Number);
    expect(p2 === phrase ? s2 === slice! + 1 : p2 === phrase! + 1 && s2 === 0).toBe(true);
    expect(resent[0]).toMatch(/~1$/); // a new epoch: marks echoed by the clear are ignored
    await h.advance(20_000);
    expect(h.bots().at(-1)).toMatchObject({ text: ANSWER });
    expect(h.bots().at(-1)?.interrupted).toBeUndefined();
    expect(h.session.bargeIns).toEqual([{ onsetToQuietMs: 70, outcome: 'resumed', onsetToOutcomeMs: 320, detectToClearMs: 0 }]);
    expect(h.bots().at(-1)?.latency?.bargeInOnsetToResumeMs).toBe(320);
    expect(h.llm.aborted).toBe(0);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('backchannels ("uh-huh", "ага") never interrupt: the bot resumes when the recognizer says so', async () => {
    const h = harness();
    await h.ask();
    h.voice.onset(80);
    await h.advance(400);
    h.voice.end(200);
    h.stt.emit({ type: 'final', text: 'uh-huh', endOfUtterance: true });
    await h.advance(10);
    expect(h.session.state).toBe('speaking');
    await h.advance(20_000);
    expect(h.recorder.turns.filter((t) => t.role === 'caller')).toHaveLength(1);
    expect(h.bots().at(-1)).toMatchObject({ text: ANSWER });
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('words confirm the interruption: the turn is aborted end to end and only what was heard is kept', async () => {
    const h = harness();
    await h.ask();
    h.voice.onset(80);
    await h.advance(300);
    h.stt.emit({ type: 'interim', text: 'wait actually' });
    await h.advance(0);
    expect(h.session.state).toBe('listening');
    expect(h.session.bargeIns.at(-1)).toMatchObject({ outcome: 'committed', onsetToQuietMs: 80, onsetToOutcomeMs: 380 });
    await h.advance(500);
    h.voice.end(200);
    h.stt.emit({ type: 'final', text: 'wait actually what about sunday', endOfUtterance: true });
    await h.advance(5000);
    const cut = h.bots()[1];
    expect(cut?.interrupted).toBe(true);
    // What was heard: whole phrases, then the phrase cut short in part ("…").
    expect(cut!.text).toMatch(/…$/);
    expect(ANSWER.startsWith(cut!.text.replace(/…$/, ''))).toBe(true);
    expect(cut!.text.length).toBeLessThan(ANSWER.length);
    expect(cut?.latency).toMatchObject({ bargeInOnsetToQuietMs: 80, bargeInOnsetToCommitMs: 380 });
    // The client hears of the cut turn's figures too (the benchmark's server-side onset → quiet).
    expect(h.transport.notices).toContainEqual(expect.objectContaining({ type: 'turn_latency', latency: expect.objectContaining({ bargeInOnsetToQuietMs: 80 }) }));
    expect(h.recorder.turns.filter((t) => t.role === 'caller').at(-1)?.text).toBe('wait actually what about sunday');
    expect(h.transport.count('clear')).toBe(1); // the pause cleared the line; the commit did not clear again
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('a recognizer with a VAD of its own (local) replaces the call\'s: one VAD per call, its onset pauses the bot', async () => {
    const h = harness();
    await h.advance(0);
    h.stt.emit({ type: 'voice', activity: 'ready', agoMs: 0 });
    await h.advance(0);
    expect(h.voice.closed).toBe(true);
    const framesBefore = h.voice.frames;
    h.transport.audio(new Uint8Array(160));
    expect(h.voice.frames).toBe(framesBefore); // the call's VAD gets no more audio
    await h.advance(2000);
    h.stt.emit({ type: 'voice', activity: 'onset', agoMs: 70 });
    await h.advance(800);
    h.stt.emit({ type: 'voice', activity: 'end', agoMs: 200 });
    h.stt.emit({ type: 'final', text: 'what are your hours', endOfUtterance: true });
    await h.advance(4000);
    expect(h.session.state).toBe('speaking');
    const clears = h.transport.count('clear');
    h.stt.emit({ type: 'voice', activity: 'onset', agoMs: 90 });
    await h.advance(0);
    expect(h.transport.count('clear')).toBe(clears + 1);
    expect(h.session.state).toBe('paused');
    await h.advance(250);
    h.stt.emit({ type: 'voice', activity: 'end', agoMs: 200 });
    h.stt.emit({ type: 'utterance_end' });
    await h.advance(10);
    expect(h.session.state).toBe('speaking');
    expect(h.session.bargeIns).toEqual([{ onsetToQuietMs: 90, outcome: 'resumed', onsetToOutcomeMs: 340, detectToClearMs: 0 }]);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('sustained speech commits the interruption before any word (a slow recognizer)', async () => {
    const h = harness({ bargeInSustainedMs: 800 });
    await h.ask();
    h.voice.onset(64);
    await h.advance(735);
    expect(h.session.state).toBe('paused');
    await h.advance(10);
    expect(h.session.state).toBe('listening');
    expect(h.session.bargeIns.at(-1)).toMatchObject({ outcome: 'committed', onsetToOutcomeMs: 800 });
    void h.session.end('server_shutdown', { immediate: true });
  });
});

describe('end of turn and latency from the caller’s voice', () => {
  it('endpointMs is not 0 when the (local) recognizer returns its final late', async () => {
    const h = harness();
    await h.advance(2000);
    h.voice.onset(80);
    await h.advance(1000);
    h.voice.end(200); // the last voiced audio was 200 ms ago
    await h.advance(1400); // pocketsphinx decoding
    h.stt.emit({ type: 'final', text: 'when do you open', endOfUtterance: true });
    await h.advance(20_000);
    const l = h.bots()[1]?.latency;
    expect(l).toMatchObject({ speechMs: 880, sttFinalMs: 1600, endpointMs: 1600, llmFirstTokenMs: 1700 });
    expect(l?.responseMs).toBeGreaterThan(1700);
    void h.session.end('server_shutdown', { immediate: true });
  });

  it('an unfinished sentence waits for the caller to go on, then both halves make one turn', async () => {
    const h = harness();
    await h.advance(2000);
    h.voice.onset();
    await h.advance(1000);
    h.voice.end(200);
    h.stt.emit({ type: 'final', text: "I'd like to book for", endOfUtterance: true });
    await h.advance(900); // a pause: not the end of the turn
    expect(h.llm.requests).toHaveLength(0);
    h.voice.onset();
    await h.advance(800);
    h.voice.end(200);
    h.stt.emit({ type: 'final', text: 'Tuesday at three', endOfUtterance: true });
    await h.advance(10);
    expect(h.llm.lastUserText()).toBe("I'd like to book for Tuesday at three");
    expect(h.recorder.turns.filter((t) => t.role === 'caller').map((t) => t.text)).toEqual(["I'd like to book for Tuesday at three"]);
    void h.session.end('server_shutdown', { immediate: true });
  });
});
