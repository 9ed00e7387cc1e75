/**
 * CallTransport over the browser web-call socket: 16 kHz PCM16 both ways as binary frames, marks/clear and live
 * events as JSON. The socket route authenticates and feeds frames in; this class turns them into handler calls
 * and the loop's audio/marks/clear/notices into frames.
 */
import type { WebSocket } from 'ws';
import { bytesPerMs, WIDEBAND_FORMAT } from '../../audio/format.js';
import { RealtimeAudioBudget } from '../realtime-budget.js';
import { FarEndState } from '../socket-frames.js';
import type { CallEndReason } from '../../call/end-reasons.js';
import type { CallTransport, TransportHandlers, TransportNotice } from '../transport.js';
import { checkAudioFrame, encodeWebServerMessage, type WebClientMessage, type WebServerMessage } from './codec.js';

export class WebCallTransport implements CallTransport {
  readonly kind = 'web' as const;
  readonly inputFormat = WIDEBAND_FORMAT;
  readonly outputFormat = WIDEBAND_FORMAT;
  private handlers: TransportHandlers | null = null;
  private endedSent = false;
  /** Marks awaiting the page's echo (only these are passed on; a clear echoes them all, as Twilio does), and whether the page is gone. */
  private readonly farEnd: FarEndState;
  /** A trailing odd byte of outbound audio, held so every binary frame is whole samples. */
  private carry: number | null = null;
  /** The page's microphone audio is taken at most as fast as it is spoken (realtime-budget.ts). */
  private readonly inbound: RealtimeAudioBudget;

  constructor(
    private readonly ws: WebSocket,
    private readonly onMalformed: (why: string) => void,
    now?: () => number,
  ) {
    this.farEnd = new FarEndState(onMalformed, (reason, end) => this.handlers?.onClose(reason, end));
    this.inbound = new RealtimeAudioBudget(bytesPerMs(WIDEBAND_FORMAT), now);
  }

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new Error('attach called twice');
    this.handlers = handlers;
    // The page may have gone before the loop attached: the loop must still hear about it.
    if (this.farEnd.closed) {
      const reason = this.farEnd.closeReason;
      const end = this.farEnd.closeEnd;
      queueMicrotask(() => handlers.onClose(reason, end));
    }
  }

  /** Hot path: one inbound binary frame, handed on as is (no copy, no logging). */
  receiveAudio(frame: Uint8Array): void {
    const bad = checkAudioFrame(frame.byteLength);
    if (bad) return this.onMalformed(bad);
    if (!this.inbound.admit(frame.byteLength)) return this.onMalformed('audio faster than real time');
    this.handlers?.onAudio(frame);
  }

  receive(message: WebClientMessage): void {
    const h = this.handlers;
    if (!h || this.farEnd.closed) return;
    switch (message.type) {
      case 'text':
        h.onText(message.text);
        return;
      case 'dtmf':
        h.onDtmf(message.digit);
        return;
      case 'mark-played':
        if (this.farEnd.markEchoed(message.name, 'mark-played')) h.onMark(message.name);
        return;
      case 'end':
        this.farEnd.close('caller ended');
        return;
      case 'start':
        this.onMalformed('repeated start');
        return;
    }
  }

  /** The socket closed (tab closed, network): the loop hears of it once (even before it attached). */
  socketClosed(reason: string, end?: CallEndReason): void {
    this.farEnd.close(reason, end);
  }

  private get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  private send(message: WebServerMessage): void {
    if (this.open) this.ws.send(encodeWebServerMessage(message));
  }

  sendAudio(chunk: Uint8Array): void {
    if (this.farEnd.closed || !this.open || chunk.byteLength === 0) return;
    let out = chunk;
    if (this.carry !== null) {
      out = new Uint8Array(chunk.byteLength + 1);
      out[0] = this.carry;
      out.set(chunk, 1);
      this.carry = null;
    }
    if (out.byteLength % 2 === 1) {
      this.carry = out[out.byteLength - 1]!;
      out = out.subarray(0, out.byteLength - 1);
    }
    if (out.byteLength > 0) this.ws.send(out, { binary: true });
  }

  sendMark(name: string): void {
    if (this.farEnd.closed || !this.open) return;
    this.farEnd.markSent(name);
    this.send({ type: 'mark', name });
  }

  clear(): void {
    if (this.farEnd.closed) return;
    this.carry = null;
    this.send({ type: 'clear' });
    const names = this.farEnd.takeOutstanding();
    const h = this.handlers;
    // Like Twilio: the cleared marks come back after clear() has returned.
    if (h && names.length > 0) queueMicrotask(() => names.forEach((n) => h.onMark(n)));
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount;
  }

  notify(event: TransportNotice): void {
    if (!this.farEnd.closed) this.send(event);
  }

  /** Tells the page why the call ended (once) and closes the socket. */
  finish(reason: string): void {
    if (!this.endedSent) {
      this.endedSent = true;
      this.send({ type: 'ended', reason });
    }
    if (this.open) this.ws.close(1000, 'call ended');
  }

  async hangup(reason: string): Promise<void> {
    this.finish(reason);
    this.farEnd.close(`hangup: ${reason}`);
  }

  async transfer(_to: string): Promise<void> {
    throw new Error('A web call cannot be transferred to a phone number');
  }
}
