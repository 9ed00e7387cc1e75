/**
 * CallTransport over the browser web-call socket: 16 kHz PCM16 both ways as binary frames, marks/clear and live
 * events as JSON. The socket route authenticates and feeds frames in; this class turns them into handler calls
 * and the loop's audio/marks/clear/notices into frames.
 */
import type { WebSocket } from 'ws';
import { WIDEBAND_FORMAT } from '../../audio/format.js';
import type { CallTransport, TransportHandlers, TransportNotice } from '../transport.js';
import { checkAudioFrame, encodeWebServerMessage, type WebClientMessage, type WebServerMessage } from './codec.js';

export class WebCallTransport implements CallTransport {
  readonly kind = 'web' as const;
  readonly inputFormat = WIDEBAND_FORMAT;
  readonly outputFormat = WIDEBAND_FORMAT;
  private handlers: TransportHandlers | null = null;
  private closed = false;
  private closeReason = '';
  private endedSent = false;
  /** Marks sent and not yet echoed: only these are passed on, and a clear echoes them all (as Twilio does). */
  private readonly outstanding = new Set<string>();
  /** A trailing odd byte of outbound audio, held so every binary frame is whole samples. */
  private carry: number | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly onMalformed: (why: string) => void,
  ) {}

  attach(handlers: TransportHandlers): void {
    if (this.handlers) throw new Error('attach called twice');
    this.handlers = handlers;
    // The page may have gone before the loop attached: the loop must still hear about it.
    if (this.closed) {
      const reason = this.closeReason;
      queueMicrotask(() => handlers.onClose(reason));
    }
  }

  /** Hot path: one inbound binary frame, handed on as is (no copy, no logging). */
  receiveAudio(frame: Uint8Array): void {
    const bad = checkAudioFrame(frame.byteLength);
    if (bad) return this.onMalformed(bad);
    this.handlers?.onAudio(frame);
  }

  receive(message: WebClientMessage): void {
    const h = this.handlers;
    if (!h || this.closed) return;
    switch (message.type) {
      case 'text':
        h.onText(message.text);
        return;
      case 'dtmf':
        h.onDtmf(message.digit);
        return;
      case 'mark-played':
        if (this.outstanding.delete(message.name)) h.onMark(message.name);
        else this.onMalformed('mark-played for an unknown mark');
        return;
      case 'end':
        this.closeOnce('caller ended');
        return;
      case 'start':
        this.onMalformed('repeated start');
        return;
    }
  }

  /** The socket closed (tab closed, network): tell the loop once. */
  socketClosed(reason: string): void {
    this.closeOnce(reason);
  }

  private closeOnce(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.outstanding.clear();
    this.handlers?.onClose(reason);
  }

  private get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  private send(message: WebServerMessage): void {
    if (this.open) this.ws.send(encodeWebServerMessage(message));
  }

  sendAudio(chunk: Uint8Array): void {
    if (this.closed || !this.open || chunk.byteLength === 0) return;
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
    if (this.closed || !this.open) return;
    this.outstanding.add(name);
    this.send({ type: 'mark', name });
  }

  clear(): void {
    if (this.closed) return;
    this.carry = null;
    this.send({ type: 'clear' });
    const names = [...this.outstanding];
    this.outstanding.clear();
    const h = this.handlers;
    // Like Twilio: the cleared marks come back after clear() has returned.
    if (h && names.length > 0) queueMicrotask(() => names.forEach((n) => h.onMark(n)));
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount;
  }

  notify(event: TransportNotice): void {
    if (!this.closed) this.send(event);
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
    this.closeOnce(`hangup: ${reason}`);
  }

  async transfer(_to: string): Promise<void> {
    throw new Error('A web call cannot be transferred to a phone number');
  }
}
