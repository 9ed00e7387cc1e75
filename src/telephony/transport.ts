/**
 * The call loop talks to a transport; Twilio Media Streams and the browser web call are two implementations.
 * Nothing in the call loop branches on which transport it runs over.
 */
import type { AudioFormat } from '../audio/format.js';
import type { CallEndReason } from '../call/end-reasons.js';

export interface TransportHandlers {
  /** Hot path: one inbound frame in `inputFormat`. The buffer may be reused after return: copy to keep. */
  onAudio(frame: Uint8Array): void;
  onDtmf(digit: string): void;
  /** Typed text from a web caller, treated like a final transcript. */
  onText(text: string): void;
  /** A mark we sent has been played out (or cleared). */
  onMark(name: string): void;
  /**
   * The far end is gone (stop message, socket closed). Called once. `end`: why the call failed when that was not the
   * caller's doing (`protocol_error`: the server closed the socket); without it, the caller hung up.
   */
  onClose(reason: string, end?: CallEndReason): void;
}

export interface CallTransport {
  readonly kind: 'twilio' | 'web';
  readonly inputFormat: AudioFormat;
  readonly outputFormat: AudioFormat;
  /** Starts delivering events; call once. */
  attach(handlers: TransportHandlers): void;
  /** Queue outbound audio in `outputFormat`. */
  sendAudio(chunk: Uint8Array): void;
  /** Ask to be told (onMark) when everything sent so far has been played. */
  sendMark(name: string): void;
  /** Drop all queued outbound audio now (barge-in); outstanding marks come back via onMark. */
  clear(): void;
  /** Bytes accepted by sendAudio but not yet written to the socket (backpressure signal). */
  readonly pendingBytes: number;
  /** Optional live events for the far end (web call transcript updates). Twilio ignores them. */
  notify(event: TransportNotice): void;
  /** End the call from our side. */
  hangup(reason: string): Promise<void>;
  /** Hand the call to a number (Twilio REST); web transports reject. */
  transfer(to: string): Promise<void>;
}

export type TransportNotice =
  | { type: 'transcript'; role: 'caller' | 'bot'; text: string; final: boolean }
  | { type: 'turn_latency'; turn: number; latency: Record<string, number | null> }
  | { type: 'state'; state: 'listening' | 'thinking' | 'speaking' | 'ended' };
