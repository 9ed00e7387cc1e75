import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeepgramStt } from '../../src/providers/stt/deepgram.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { FakeDeepgram, mulawToneFrame } from '../fakes/fakeDeepgram.js';

let fake: FakeDeepgram;
/** Sizes of the audio messages each connection received, in order. */
const received = new Map<number, number[]>();

beforeAll(async () => {
  fake = await FakeDeepgram.start({ apiKey: 'dg-good', utterances: ['hello'] });
  fake.trace = (e) => {
    if (e.kind === 'audio') received.set(e.connection, [...(received.get(e.connection) ?? []), e.audio.byteLength]);
  };
});
afterAll(() => fake.close());

const open = (packetMs: number, format = TWILIO_FORMAT) =>
  new DeepgramStt({ apiKey: 'dg-good', baseUrl: fake.url, packetMs }).open({ format, language: 'en', signal: new AbortController().signal });

describe('DeepgramStt audio packets', () => {
  it('sends 20 ms frames as one packet per packetMs, the rest held until Finalize, which it precedes', async () => {
    const session = await open(120);
    const index = fake.connections.length - 1;
    const frame = mulawToneFrame(); // 160 bytes = 20 ms at 8 kHz μ-law
    for (let i = 0; i < 7; i++) session.pushAudio(frame);
    session.finalize(); // before the held 20 ms could go out on its own
    const conn = fake.connections[index]!;
    await vi.waitFor(() => expect(conn.controls.map((c) => c.type)).toContain('Finalize'));
    // The held 20 ms went out before the Finalize (same socket, in order), so Deepgram finalises all the audio.
    expect(received.get(index)).toEqual([960, 160]);
    expect(conn.audioBytes).toBe(7 * 160);
    await session.close();
  });

  it('sizes packets by the format (PCM16 at 16 kHz: 32 bytes a ms) and never holds audio past packetMs', async () => {
    const session = await open(40, WIDEBAND_FORMAT);
    const index = fake.connections.length - 1;
    session.pushAudio(new Uint8Array(640)); // 20 ms
    session.pushAudio(new Uint8Array(640 * 3)); // 60 ms, split across packets
    await vi.waitFor(() => expect(received.get(index)).toEqual([1280, 1280]));
    session.pushAudio(new Uint8Array(640));
    // No more frames come: the held 20 ms goes out on its own once packetMs has passed.
    await vi.waitFor(() => expect(received.get(index)).toEqual([1280, 1280, 640]));
    await session.close();
  });

  it('copies each frame, so a caller reusing its buffer changes nothing already pushed', async () => {
    const session = await open(60);
    const index = fake.connections.length - 1;
    const frame = new Uint8Array(160).fill(0x11);
    session.pushAudio(frame);
    frame.fill(0x22);
    session.pushAudio(frame);
    frame.fill(0x33);
    session.pushAudio(frame);
    let audio: Buffer | null = null;
    const before = fake.trace;
    fake.trace = (e) => {
      before?.(e);
      if (e.kind === 'audio' && e.connection === index) audio = e.audio;
    };
    await vi.waitFor(() => expect(received.get(index)).toEqual([480]));
    fake.trace = before;
    expect([...new Set(audio!)]).toEqual([0x11, 0x22, 0x33]);
    await session.close();
  });
});
