/**
 * The call's recognizer session: opened (and reopened once after a failure), fed every caller frame, its events
 * handed to the session. Audio that arrives while no session is open (connecting, reconnecting) is held — the
 * last MAX_HELD_FRAMES of it — so the caller's first words are not lost.
 */
import type { SttEvent, SttProvider, SttSession, SttSessionOptions } from '../providers/types.js';

/** 3 s of 20 ms frames. */
const MAX_HELD_FRAMES = 150;

export interface SttConnectionOptions {
  provider: SttProvider;
  open: Omit<SttSessionOptions, 'signal'>;
  signal: AbortSignal;
  onEvent: (ev: SttEvent) => void;
  /** A session failed; return whether to reconnect. */
  onFailure: (err: unknown) => boolean;
}

export class SttConnection {
  private session: SttSession | null = null;
  private readonly held: Uint8Array[] = [];
  private closed = false;

  constructor(private readonly o: SttConnectionOptions) {}

  /** Hot path: one caller frame. */
  push(frame: Uint8Array): void {
    if (this.session) return this.session.pushAudio(frame);
    if (this.closed) return;
    this.held.push(frame.slice());
    if (this.held.length > MAX_HELD_FRAMES) this.held.shift();
  }

  /** Ask the recognizer to finalise what it has now (the VAD heard the caller stop). */
  finalize(): void {
    this.session?.finalize();
  }

  /** Runs until the call ends or the failures are final. */
  async run(): Promise<void> {
    while (!this.closed) {
      let session: SttSession;
      try {
        session = await this.o.provider.open({ ...this.o.open, signal: this.o.signal });
      } catch (err) {
        if (this.closed || !this.o.onFailure(err)) return;
        continue;
      }
      if (this.closed) {
        void session.close().catch(() => {});
        return;
      }
      this.session = session;
      // The caller may have started talking while the recognizer was connecting: hand it what we held.
      for (const frame of this.held.splice(0)) session.pushAudio(frame);
      let failure: unknown = null;
      try {
        for await (const ev of session.events) {
          if (this.closed) break;
          if (ev.type === 'error') {
            failure = ev.error;
            break;
          }
          this.o.onEvent(ev);
        }
      } catch (err) {
        failure = err;
      }
      this.session = null;
      void session.close().catch(() => {});
      if (this.closed || !this.o.onFailure(failure ?? new Error('STT stream ended'))) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.length = 0;
    const s = this.session;
    this.session = null;
    if (s) await s.close();
  }
}
