/**
 * What the call asks of the recognizer while no session is open (connecting at the start, or reopening after a
 * drop): the caller's audio is held, and so is a request to finalise (the VAD heard the caller stop). The new
 * session gets both, in the order they were made, so the caller's last words come back as a final.
 */
import { describe, expect, it } from 'vitest';
import { MAX_HELD_FRAMES, SttConnection } from '../../src/call/stt-connection.js';
import { systemClock } from '../../src/call/types.js';
import type { SttEvent, SttProvider, SttSession } from '../../src/providers/types.js';
import { AsyncQueue } from '../../src/util/async-queue.js';

interface GatedSession {
  sent: Array<number | 'F'>;
  events: AsyncQueue<SttEvent>;
  /** Its connection has failed (the call not told yet): it refuses what it is handed (nothing is logged). */
  broken: boolean;
  /** The audio it took but never sent: frames by their first byte. */
  unsent: number[];
}

/** A recognizer whose sessions open when the test says, each logging what it was sent ('F' = a finalise). */
class GatedStt implements SttProvider {
  readonly name = 'gated';
  readonly sessions: GatedSession[] = [];
  /** Sessions that open already broken (their socket fails as they are handed the held audio). */
  breakAfter: number | null = null;
  private gates: Array<() => void> = [];

  open(): Promise<SttSession> {
    return new Promise<void>((r) => this.gates.push(r)).then(() => {
      const s: GatedSession = { sent: [], events: new AsyncQueue<SttEvent>(), broken: false, unsent: [] };
      const breakAfter = this.breakAfter;
      this.breakAfter = null;
      const take = (entry: number | 'F'): boolean => {
        if (breakAfter !== null && s.sent.length === breakAfter) s.broken = true;
        if (s.broken) return false;
        s.sent.push(entry);
        return true;
      };
      this.sessions.push(s);
      return {
        pushAudio: (frame: Uint8Array) => take(frame[0]!),
        finalize: () => take('F'),
        unsent: () => (s.unsent.length ? new Uint8Array(s.unsent.splice(0)) : null),
        events: s.events,
        close: async () => s.events.close(),
      };
    });
  }

  /** Lets the pending open through and waits until the connection has handed the session what it held. */
  async connect(): Promise<void> {
    const before = this.sessions.length;
    this.gates.shift()!();
    while (this.sessions.length === before) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }

  /** Waits until the connection is asking for a new session. */
  async reopening(): Promise<void> {
    while (this.gates.length === 0) await new Promise((r) => setImmediate(r));
  }
}

function connection(stt: GatedStt) {
  const abort = new AbortController();
  const events: SttEvent[] = [];
  const conn = new SttConnection({
    provider: stt,
    open: { format: { encoding: 'mulaw', sampleRate: 8000 }, language: 'en' },
    signal: abort.signal,
    clock: systemClock,
    onEvent: (ev) => events.push(ev),
    onFailure: () => {},
    onGiveUp: () => {},
  });
  void conn.run();
  return {
    conn, events,
    frame: (n: number) => conn.push(new Uint8Array([n, 0, 0, 0])),
    stop: async () => {
      abort.abort();
      await conn.close();
    },
  };
}

describe('a finalise asked while the recognizer is reconnecting', () => {
  it('is sent to the new session right after the audio it followed, not dropped', async () => {
    const stt = new GatedStt();
    const c = connection(stt);
    await stt.connect();
    c.frame(1);
    // The session drops mid-utterance; the caller says their last words and stops while it is reopened.
    stt.sessions[0]!.events.push({ type: 'error', error: new Error('socket dropped'), recoverable: true });
    await stt.reopening();
    c.frame(2);
    c.frame(3);
    c.conn.finalize();
    c.frame(4);
    await stt.connect();
    expect(stt.sessions[1]!.sent).toEqual([2, 3, 'F', 4]);
    // Asked with the session open, it goes straight to it.
    c.conn.finalize();
    expect(stt.sessions[1]!.sent).toEqual([2, 3, 'F', 4, 'F']);
    await c.stop();
  });

  it('made before the first session is open, it reaches that session too (once for repeated asks)', async () => {
    const stt = new GatedStt();
    const c = connection(stt);
    c.frame(1);
    c.conn.finalize();
    c.conn.finalize();
    await stt.connect();
    expect(stt.sessions[0]!.sent).toEqual([1, 'F']);
    await c.stop();
  });

  it('survives a long outage: the held audio is capped, the latest request kept with the audio before it', async () => {
    const stt = new GatedStt();
    const c = connection(stt);
    for (let i = 0; i < MAX_HELD_FRAMES + 20; i++) c.frame(i % 200);
    c.conn.finalize();
    await stt.connect();
    const sent = stt.sessions[0]!.sent;
    expect(sent).toHaveLength(MAX_HELD_FRAMES);
    expect(sent[sent.length - 1]).toBe('F');
    expect(sent[sent.length - 2]).toBe((MAX_HELD_FRAMES + 19) % 200);
    await c.stop();
  });
});

describe('a session that failed before the call saw its failure', () => {
  it('refuses what it is handed; it is held, after the audio the session took but never sent, for the next one', async () => {
    const stt = new GatedStt();
    const c = connection(stt);
    await stt.connect();
    c.frame(1);
    // Its socket fails with frame 2 taken but not sent (a packet being filled); the error event is not out yet.
    const lost = stt.sessions[0]!;
    lost.broken = true;
    lost.unsent.push(2);
    c.frame(3);
    c.conn.finalize();
    c.frame(4);
    lost.events.push({ type: 'error', error: new Error('socket closing'), recoverable: true });
    await stt.reopening();
    c.frame(5);
    await stt.connect();
    expect(lost.sent).toEqual([1]);
    expect(stt.sessions[1]!.sent).toEqual([2, 3, 'F', 4, 5]);
    await c.stop();
  });

  it('a new session that fails while it is handed the held audio leaves the rest held, in order, for the one after', async () => {
    const stt = new GatedStt();
    const c = connection(stt);
    c.frame(1);
    c.frame(2);
    c.conn.finalize();
    c.frame(3);
    stt.breakAfter = 1;
    await stt.connect();
    stt.sessions[0]!.events.push({ type: 'error', error: new Error('socket closing'), recoverable: true });
    await stt.reopening();
    await stt.connect();
    expect(stt.sessions[0]!.sent).toEqual([1]);
    expect(stt.sessions[1]!.sent).toEqual([2, 'F', 3]);
    await c.stop();
  });

});
