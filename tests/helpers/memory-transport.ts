/**
 * An in-memory CallTransport for call-loop tests: records what the session sends, plays outbound audio back
 * in simulated real time (with the global timers, so vitest fake timers drive it), echoes marks when their
 * audio has "played", and echoes outstanding marks right after clear(), as Twilio does.
 */
import { bytesPerMs, TWILIO_FORMAT, type AudioFormat } from '../../src/audio/format.js';
import type { CallTransport, TransportHandlers, TransportNotice } from '../../src/telephony/transport.js';

export type SentItem = { type: 'audio'; bytes: number; at: number } | { type: 'mark'; name: string; at: number } | { type: 'clear'; at: number };

export class MemoryTransport implements CallTransport {
  readonly kind = 'twilio' as const;
  readonly inputFormat: AudioFormat = TWILIO_FORMAT;
  readonly outputFormat: AudioFormat = TWILIO_FORMAT;
  readonly sent: SentItem[] = [];
  readonly echoedMarks: string[] = [];
  readonly notices: TransportNotice[] = [];
  hangupReason: string | null = null;
  transferredTo: string | null = null;
  failTransfer = false;
  /** Set by a test to simulate a slow socket. */
  pendingBytes = 0;
  /** false: a client that plays the audio but never echoes a mark (nor answers a clear with them). */
  echoesMarks = true;
  private handlers: TransportHandlers | null = null;
  private playheadAt = 0;
  private readonly outstanding = new Map<string, NodeJS.Timeout>();

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new Error('attach called twice');
    this.handlers = handlers;
  }

  sendAudio(chunk: Uint8Array): void {
    const now = Date.now();
    this.sent.push({ type: 'audio', bytes: chunk.byteLength, at: now });
    this.playheadAt = Math.max(this.playheadAt, now) + chunk.byteLength / bytesPerMs(this.outputFormat);
  }

  sendMark(name: string): void {
    const now = Date.now();
    this.sent.push({ type: 'mark', name, at: now });
    if (!this.echoesMarks) return;
    const timer = setTimeout(() => this.echo(name), Math.max(0, this.playheadAt - now));
    this.outstanding.set(name, timer);
  }

  clear(): void {
    this.sent.push({ type: 'clear', at: Date.now() });
    this.playheadAt = Date.now();
    const names = [...this.outstanding.keys()];
    for (const t of this.outstanding.values()) clearTimeout(t);
    this.outstanding.clear();
    // Twilio sends the cleared marks back as messages, i.e. after clear() has returned.
    queueMicrotask(() => {
      for (const n of names) this.echo(n, false);
    });
  }

  notify(event: TransportNotice): void {
    this.notices.push(event);
  }

  async hangup(reason: string): Promise<void> {
    this.hangupReason = reason;
    this.dropOutstanding();
  }

  async transfer(to: string): Promise<void> {
    if (this.failTransfer) throw new Error('transfer failed');
    this.transferredTo = to;
  }

  // ---------- test side ----------

  get isAttached(): boolean {
    return this.handlers !== null;
  }
  audio(frame: Uint8Array): void {
    this.handlers?.onAudio(frame);
  }
  dtmf(digit: string): void {
    this.handlers?.onDtmf(digit);
  }
  text(text: string): void {
    this.handlers?.onText(text);
  }
  close(reason = 'stop'): void {
    this.dropOutstanding();
    this.handlers?.onClose(reason);
  }

  /** Marks echoed because their audio finished playing (not because of a clear). */
  readonly playedMarks: string[] = [];
  count(type: SentItem['type']): number {
    return this.sent.filter((s) => s.type === type).length;
  }
  audioBytes(): number {
    return this.sent.reduce((n, s) => n + (s.type === 'audio' ? s.bytes : 0), 0);
  }

  private echo(name: string, played = true): void {
    this.outstanding.delete(name);
    this.echoedMarks.push(name);
    if (played) this.playedMarks.push(name);
    this.handlers?.onMark(name);
  }

  private dropOutstanding(): void {
    for (const t of this.outstanding.values()) clearTimeout(t);
    this.outstanding.clear();
  }
}
