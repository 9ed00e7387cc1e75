import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/util/async-queue.js';
import type { SttEvent, SttProvider, SttSession } from '../../src/providers/types.js';
import { testCallSession } from '../helpers/test-call-session.js';

/** An STT whose connection takes as long as the test says. */
class SlowStt implements SttProvider {
  readonly name = 'slow';
  readonly received: number[] = [];
  private release!: () => void;
  readonly connected = new Promise<void>((r) => (this.release = r));
  open(): Promise<SttSession> {
    return this.connected.then(() => ({
      pushAudio: (frame: Uint8Array) => void this.received.push(frame[0]!),
      finalize: () => {},
      events: new AsyncQueue<SttEvent>(),
      close: async () => {},
    }));
  }
  connect(): void {
    this.release();
  }
}

describe('audio that arrives before the recognizer is connected', () => {
  it('is held and handed over in order, so the first words are not lost', async () => {
    const { transport, stt, session } = testCallSession({ stt: new SlowStt() });
    const done = session.start();
    const frame = new Uint8Array(160);
    for (let i = 1; i <= 5; i++) {
      frame[0] = i; // the transport may reuse its buffer: the session must copy what it holds
      transport.audio(frame);
    }
    stt.connect();
    await new Promise((r) => setTimeout(r, 20));
    transport.audio(new Uint8Array([6]));
    expect(stt.received).toEqual([1, 2, 3, 4, 5, 6]);
    await session.end('server_shutdown', { immediate: true });
    await done;
  });
});
