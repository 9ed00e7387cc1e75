/**
 * CallTransport over a Twilio bidirectional Media Stream. The socket route feeds decoded messages in with
 * receive(); this class turns them into handler calls and turns the loop's audio/marks/clear into frames.
 *
 * Only this stream's messages are the call's: a media, mark, dtmf or stop message whose streamSid is not the one
 * of the stream's `start` (or that names none) is counted as unexpected (onMalformed: a metric, one log line per
 * call) and otherwise ignored — never the caller's audio, a mark echo, a keypress or the end of the call.
 */
import type { WebSocket } from 'ws';
import { TWILIO_FORMAT } from '../../audio/format.js';
import { FarEndState } from '../socket-frames.js';
import type { CallEndReason } from '../../call/end-reasons.js';
import { SequenceGaps } from './sequence-gaps.js';
import type { CallTransport, TransportHandlers, TransportNotice } from '../transport.js';
import {
  base64DecodedCapacity,
  bytesEqual,
  decodeBase64Into,
  decodeMediaPayload,
  encodeClear,
  encodeMarkAfter,
  encodeMediaAfter,
  markMessagePrefix,
  mediaMessagePrefix,
  scanFrame,
  SCANNED_MARK,
  SCANNED_NONE,
  type FrameSpan,
  type TwilioInbound,
} from './codec.js';

export interface TwilioCallControl {
  /** Moves the live call to `to` (Twilio REST: new TwiML with <Dial>). */
  transfer(callSid: string, to: string): Promise<void>;
}

/** Queued audio is sent once it reaches this much (1 s of 8 kHz μ-law); Twilio accepts messages of any size. */
const MAX_MEDIA_BYTES = 8000;

/** Twilio reads media messages from text frames; ws would send a buffer as binary. */
const TEXT_FRAME = { binary: false } as const;

const OTHER_STREAM = 'frame of another stream';

/** The TCP socket under the WebSocket (node's net.Socket): writes made while it is corked go out as one. */
export interface CorkableWire {
  cork(): void;
  uncork(): void;
}

export class TwilioMediaTransport implements CallTransport {
  readonly kind = 'twilio' as const;
  readonly inputFormat = TWILIO_FORMAT;
  readonly outputFormat = TWILIO_FORMAT;
  private handlers: TransportHandlers | null = null;
  /** Marks awaiting Twilio's echo, and whether the stream is gone. */
  private readonly farEnd: FarEndState;
  /**
   * TTS audio waiting for setImmediate, i.e. until the I/O callbacks of this event-loop iteration have run. A
   * TTS stream running ahead of real time delivers dozens of small chunks per socket read; sending them as one
   * media message instead of one each saves a JSON frame, a base64 pass and a syscall per chunk on a busy
   * server, for a wait no longer than the rest of the iteration.
   */
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushQueued = false;
  private readonly flushNow = (): void => {
    this.flushQueued = false;
    this.flush();
  };
  /** Outbound media and mark messages start with these (serialised once). */
  /** mediaMessagePrefix as UTF-8 bytes: every outbound media frame starts with them. */
  private readonly mediaPrefix: Uint8Array;
  private readonly markPrefix: string;
  /** Inbound audio is decoded into this and handed on as `inboundView` (onAudio's frame may be reused). */
  private inboundBytes = new Uint8Array(160);
  private inboundView = this.inboundBytes;
  private readonly span: FrameSpan = { inbound: true, payloadStart: 0, payloadEnd: 0, nameStart: 0, nameEnd: 0, sidStart: -1, sidEnd: -1, sequence: -1 };
  /** This stream's streamSid as bytes, to check each scanned frame's against. */
  private readonly sidBytes: Uint8Array;
  /** Messages Twilio never sent (gaps in sequenceNumber); read once when the call ends (media-route.ts). */
  readonly sequence = new SequenceGaps();

  constructor(
    private readonly ws: WebSocket,
    private readonly streamSid: string,
    private readonly callSid: string,
    private readonly control: TwilioCallControl | null,
    /** Counts a malformed or unexpected frame (the route's counter: metric, one log line per call). */
    private readonly onMalformed: (why: string) => void = () => {},
    /** The socket under `ws`: a mark and the audio before it then leave in one write, not two. */
    private readonly wire: CorkableWire | null = null,
  ) {
    this.farEnd = new FarEndState(onMalformed, (reason, end) => this.handlers?.onClose(reason, end));
    // Its own memory, not a slice of Node's shared 8 KB pool, which the call would then keep alive whole.
    this.mediaPrefix = new TextEncoder().encode(mediaMessagePrefix(streamSid));
    this.markPrefix = markMessagePrefix(streamSid);
    this.sidBytes = new TextEncoder().encode(streamSid);
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    // The caller may have hung up while the call was being set up: the loop must still hear about it.
    if (this.farEnd.closed) {
      const reason = this.farEnd.closeReason;
      const end = this.farEnd.closeEnd;
      queueMicrotask(() => handlers.onClose(reason, end));
    }
  }

  /**
   * Hot path: a text frame's bytes. Media and mark frames in Twilio's usual shape (scanFrame) are handled here —
   * media's base64 decoded straight from the bytes into one reused buffer: no string, no JSON.parse, no
   * allocation. Returns false for any other frame, which then goes the full way (checks, decodeTwilioMessage,
   * receive()).
   */
  receiveFrame(bytes: Buffer): boolean {
    const span = this.span;
    const kind = scanFrame(bytes, span);
    if (kind === SCANNED_NONE) return false;
    if (span.sidStart < 0 || !bytesEqual(bytes, span.sidStart, span.sidEnd, this.sidBytes)) {
      this.onMalformed(OTHER_STREAM);
      return true;
    }
    this.sequence.see(span.sequence);
    const h = this.handlers;
    if (!h) return true;
    if (kind === SCANNED_MARK) {
      const name = bytes.toString('latin1', span.nameStart, span.nameEnd);
      if (this.farEnd.markEchoed(name, 'mark')) h.onMark(name);
      return true;
    }
    if (!span.inbound) {
      this.onMalformed('media on a track other than inbound');
      return true;
    }
    const capacity = base64DecodedCapacity(span.payloadEnd - span.payloadStart);
    if (this.inboundBytes.length < capacity) this.inboundBytes = new Uint8Array(capacity);
    const n = decodeBase64Into(bytes, span.payloadStart, span.payloadEnd, this.inboundBytes);
    if (n < 0) {
      this.onMalformed('media payload is not base64');
      return true;
    }
    if (this.inboundView.buffer !== this.inboundBytes.buffer || this.inboundView.length !== n) this.inboundView = this.inboundBytes.subarray(0, n);
    h.onAudio(this.inboundView);
    return true;
  }

  /** A decoded message (frames that scanFrame does not take), with its sequenceNumber (-1: none). */
  receive(message: TwilioInbound, sequence = -1): void {
    if ('streamSid' in message && message.streamSid !== this.streamSid) return this.onMalformed(OTHER_STREAM);
    this.sequence.see(sequence);
    // A stop before the loop attached still ends the call (attach() reports it).
    if (message.event === 'stop') return this.farEnd.close('stop');
    const h = this.handlers;
    if (!h) return;
    switch (message.event) {
      case 'media': {
        if (message.track !== 'inbound') return this.onMalformed('media on a track other than inbound');
        const audio = decodeMediaPayload(message.payload);
        if (audio) h.onAudio(audio);
        else this.onMalformed('media payload is not base64');
        return;
      }
      case 'mark':
        if (this.farEnd.markEchoed(message.name, 'mark')) h.onMark(message.name);
        return;
      case 'dtmf':
        h.onDtmf(message.digit);
        return;
      default:
        return;
    }
  }

  /** The socket closed (caller hung up, network): the loop hears of it once. */
  socketClosed(reason: string, end?: CallEndReason): void {
    this.farEnd.close(reason, end);
  }

  private get open(): boolean {
    return !this.farEnd.closed && this.ws.readyState === this.ws.OPEN;
  }

  sendAudio(chunk: Uint8Array): void {
    if (!this.open || chunk.byteLength === 0) return;
    this.outbox.push(chunk);
    this.outboxBytes += chunk.byteLength;
    if (this.outboxBytes >= MAX_MEDIA_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flushNow);
    }
  }

  /** Sends the queued audio now (before a mark, so the mark follows the audio it marks). */
  private flush(): void {
    if (this.outboxBytes === 0) return;
    const audio = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox, this.outboxBytes);
    this.outbox = [];
    this.outboxBytes = 0;
    if (!this.open) return;
    this.ws.send(encodeMediaAfter(this.mediaPrefix, audio), TEXT_FRAME);
  }

  sendMark(name: string): void {
    if (!this.open) return;
    this.wire?.cork();
    try {
      this.flush();
      this.farEnd.markSent(name);
      this.ws.send(encodeMarkAfter(this.markPrefix, name));
    } finally {
      this.wire?.uncork();
    }
  }

  clear(): void {
    this.outbox = [];
    this.outboxBytes = 0;
    if (!this.open) return;
    this.ws.send(encodeClear(this.streamSid));
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount + this.outboxBytes;
  }

  notify(_event: TransportNotice): void {
    // Phone callers have no screen.
  }

  /**
   * Closing a bidirectional stream's socket makes Twilio continue with the TwiML after <Connect>; there is none,
   * so the call ends. No REST round trip needed.
   */
  async hangup(reason: string): Promise<void> {
    this.flush();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000, reason.slice(0, 100));
    this.farEnd.close(`hangup: ${reason}`);
  }

  async transfer(to: string): Promise<void> {
    if (!this.control) throw new Error('Transfer needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN');
    await this.control.transfer(this.callSid, to);
  }
}
