/**
 * A Deepgram socket that stays open and stops answering (a stuck server, a half-open connection: no close, no error)
 * while the caller speaks. Before, the session waited for ever: the caller's words went nowhere, the call heard no
 * turn end and re-prompted "Are you still there?" over them, then hung up on them for silence. Now the Finalize the
 * VAD asks for at the end of their speech goes unanswered, which fails the session (recoverable), and the audio it
 * never answered for goes to the session that replaces it: the caller's words come back from there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { FakeDeepgram, mulawSilenceFrame, mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { runSttConnection } from '../helpers/stt-connection-run.js';
import { readSttEvents } from '../helpers/stt-events.js';
import { until } from '../helpers/until.js';

let fake: FakeDeepgram;

beforeAll(async () => {
  fake = await FakeDeepgram.start({ apiKey: 'dg-good' });
});
afterAll(() => fake.close());

const tone = mulawToneFrame();
const silence = mulawSilenceFrame();
const FRAME_BYTES = tone.byteLength;

/** A short answer deadline: the test waits for events, not for the clock. */
function stt(): DeepgramStt {
  return new DeepgramStt({ apiKey: 'dg-good', baseUrl: fake.url, packetMs: 100, finalizeAnswerMs: 300 });
}

describe('a Deepgram socket that stops answering without closing', () => {
  it('an unanswered Finalize fails the session, recoverable, and the audio it never answered for is handed back', async () => {
    const session = await stt().open({ format: TWILIO_FORMAT, language: 'en', signal: new AbortController().signal });
    const { events, done: ended } = readSttEvents(session);
    const conn = fake.connections.at(-1)!;
    conn.stall();
    for (let i = 0; i < 40; i++) session.pushAudio(tone);
    for (let i = 0; i < 10; i++) session.pushAudio(silence);
    expect(session.finalize()).toBe(true);
    await until(() => conn.controls.some((c) => c.type === 'Finalize'), 5000);
    await ended;
    expect(events).toEqual([expect.objectContaining({ type: 'error', recoverable: true })]);
    expect(String((events[0] as { error: Error }).error.message)).toMatch(/did not answer a Finalize/);
    expect(session.unsent?.()?.byteLength).toBe(50 * FRAME_BYTES);
    expect(session.unsent?.()).toBeNull();
    await session.close();
  });

  it('a session that answers is not failed by its Finalize', async () => {
    const session = await stt().open({ format: TWILIO_FORMAT, language: 'en', signal: new AbortController().signal });
    const { events } = readSttEvents(session);
    for (let i = 0; i < 40; i++) session.pushAudio(tone);
    for (let i = 0; i < 10; i++) session.pushAudio(silence);
    session.finalize();
    await until(() => events.some((e) => e.type === 'final'), 5000);
    // A second Finalize with nothing to flush is answered too (an empty result): the session stays up past the deadline.
    session.finalize();
    const conn = fake.connections.at(-1)!;
    await until(() => conn.sent.filter((m) => m.from_finalize === true).length === 2, 5000);
    session.pushAudio(silence);
    session.finalize();
    await until(() => conn.sent.filter((m) => m.from_finalize === true).length === 3, 5000);
    expect(events.some((e) => e.type === 'error')).toBe(false);
    await session.close();
  });

  it('in a call: the words said to the stalled session come back from the new one, as the caller\'s turn', async () => {
    const first = fake.connections.length;
    fake.transcriptFor = (connection) => (connection === first ? 'never heard' : 'I would like a haircut');
    const { conn, events, stop } = runSttConnection(stt());
    try {
      const stuck = await until(() => fake.connections[first], 5000);
      stuck.stall();
      // The caller speaks and stops; the VAD asks for the final, which never comes.
      for (let i = 0; i < 40; i++) conn.push(tone);
      for (let i = 0; i < 10; i++) conn.push(silence);
      conn.finalize();

      const final = await until(() => events.find((e) => e.type === 'final'), 5000);
      expect(final).toMatchObject({ type: 'final', text: 'I would like a haircut' });
      expect(fake.connections[first + 1]!.audioBytes).toBeGreaterThanOrEqual(50 * FRAME_BYTES);
      expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    } finally {
      fake.transcriptFor = null;
      await stop();
    }
  });
});
