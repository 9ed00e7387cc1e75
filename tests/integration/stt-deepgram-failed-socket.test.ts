/**
 * A Deepgram socket that has failed before the call has seen it — the server closed it and the closing handshake
 * hangs, so no `close` event comes for seconds — refuses what it is handed, and the call holds it: the caller's
 * words and the Finalize asked meanwhile go to the new session, and the caller's last words come back as a final.
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

function stt(packetMs: number): DeepgramStt {
  return new DeepgramStt({ apiKey: 'dg-good', baseUrl: fake.url, packetMs });
}

describe('a Deepgram socket that failed before the call saw it', () => {
  it('refuses audio and a Finalize, reports the failure at once, and hands back the packet it never sent', async () => {
    // A long packet: the two frames stay in it while the socket fails.
    const session = await stt(250).open({ format: TWILIO_FORMAT, language: 'en', signal: new AbortController().signal });
    const { events } = readSttEvents(session);
    session.pushAudio(tone);
    session.pushAudio(tone);
    await fake.connections.at(-1)!.closeHalfway();

    expect(session.pushAudio(tone)).toBe(false);
    expect(session.finalize()).toBe(false);
    await until(() => events.length > 0, 5000);
    expect(events).toEqual([expect.objectContaining({ type: 'error', recoverable: true })]);
    expect(session.unsent?.()?.byteLength).toBe(2 * FRAME_BYTES);
    expect(session.unsent?.()).toBeNull();
    await session.close();
  });

  it('the words said in that window and the Finalize reach the new session: the last words come back as a final', async () => {
    const first = fake.connections.length;
    fake.transcriptFor = (connection) => (connection === first ? 'I would like' : 'to book Tuesday at three');
    const { conn, events, stop } = runSttConnection(stt(100));
    try {
      const lost = await until(() => fake.connections[first], 5000);
      // The caller speaks; every packet reaches Deepgram (its reader is idle when it fails).
      for (let i = 0; i < 25; i++) conn.push(tone);
      await until(() => lost.audioBytes === 25 * FRAME_BYTES, 5000);
      await lost.closeHalfway();

      // The caller goes on and stops; the VAD asks for the final.
      for (let i = 0; i < 25; i++) conn.push(tone);
      for (let i = 0; i < 10; i++) conn.push(silence);
      conn.finalize();

      const final = await until(() => events.find((e) => e.type === 'final'), 5000);
      const next = fake.connections[first + 1]!;
      expect(next.audioBytes).toBe(35 * FRAME_BYTES);
      expect(next.controls.map((c) => c.type)).toContain('Finalize');
      expect(final).toMatchObject({ type: 'final', text: 'to book Tuesday at three' });
      expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    } finally {
      fake.transcriptFor = null;
      await stop();
    }
  });
});
