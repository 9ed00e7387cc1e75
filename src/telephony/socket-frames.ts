/**
 * Frame checks shared by the two call sockets (/twilio/media and /web-call/socket) and their transports, so both
 * treat a bad frame the same way: counted as malformed and dropped, the call going on. ws's own UTF-8 check is
 * off (`skipUTF8Validation`, see app.ts) because ws answers an invalid text frame by closing the socket (1007).
 */
import { isUtf8 } from 'node:buffer';
import type { RawData, WebSocket } from 'ws';
import type { CallEndReason } from '../call/end-reasons.js';
import type { Metrics } from '../metrics.js';

/**
 * The largest frame ws reads (`maxPayload`). A larger frame cannot be skipped: ws closes the socket with 1009
 * before the frame reaches us, which ends the call. Frames up to this size are read and, when oversized for their
 * kind, counted and dropped.
 */
export const MAX_SOCKET_PAYLOAD = 4 * 1024 * 1024;
/**
 * Largest text frame decoded; Twilio's and the web client's JSON messages are a few hundred bytes to a few KB (the
 * longest, typed text of 2,000 characters, is at most 12 KB escaped).
 */
export const MAX_TEXT_FRAME_BYTES = 16 * 1024;

/**
 * What a socket may send before it authenticates (its `start` accepted). Before `start`: text frames only, at most
 * Twilio's `connected` and the `start` itself, each at most MAX_TEXT_FRAME_BYTES, at most
 * MAX_BYTES_BEFORE_START together. While the start's token is checked, frames racing it (the first audio) are
 * dropped unread, up to MAX_RACING_FRAMES / MAX_RACING_BYTES — more than the 10 s start deadline of either
 * client's audio (50 frames a second, at most 640 bytes of PCM or ~250 bytes of Twilio JSON each). Beyond any of
 * these the socket is a stranger pushing bytes (4 of them, unlimited, once stalled every live call's event loop)
 * and is terminated.
 */
export const MAX_FRAMES_BEFORE_START = 2;
export const MAX_BYTES_BEFORE_START = 64 * 1024;
export const MAX_RACING_FRAMES = 600;
export const MAX_RACING_BYTES = 1024 * 1024;

/** Counts an unauthenticated socket's frames against the limits above. */
export class UnauthenticatedFrames {
  private frames = 0;
  private bytes = 0;

  /** Why this frame (of `size` bytes; `startSent`: its start is being checked) ends the socket, or null. */
  breach(size: number, isBinary: boolean, startSent: boolean): string | null {
    this.frames++;
    this.bytes += size;
    if (startSent) return this.frames > MAX_RACING_FRAMES || this.bytes > MAX_RACING_BYTES ? 'too much sent while the start was checked' : null;
    if (isBinary) return 'binary frame before start';
    if (size > MAX_TEXT_FRAME_BYTES) return 'oversized text frame before start';
    if (this.frames > MAX_FRAMES_BEFORE_START || this.bytes > MAX_BYTES_BEFORE_START) return 'too many frames before start';
    return null;
  }
}

/** How long an unauthenticated socket has to answer our close frame before it is cut (ws would wait 30 s). */
export const UNAUTHENTICATED_CLOSE_GRACE_MS = 1000;

/**
 * Ends a socket that never authenticated: a close frame (`code`, `reason`), then terminate() after
 * UNAUTHENTICATED_CLOSE_GRACE_MS, whether or not the peer answers — a peer ignoring the close frame otherwise
 * holds its connection for ws's 30 s close timeout.
 */
export function closeUnauthenticated(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.OPEN) socket.close(code, reason);
  setTimeout(() => socket.terminate(), UNAUTHENTICATED_CLOSE_GRACE_MS).unref();
}

/** A frame's bytes without a copy (ws hands a Buffer with the default binaryType; fragments come concatenated). */
export function frameBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * How deep a text frame's JSON may nest. Twilio's messages and the web client's are flat objects (Twilio's start
 * nests three levels); a frame of nothing but brackets costs JSON.parse ~60 times what a flat frame of the same size
 * does (1.2 ms for 64 KB), and a flood of them stalled every call on the event loop.
 */
export const MAX_TEXT_FRAME_DEPTH = 8;

/** JSON's structural bytes, for the scans of frames as bytes (here and twilio/codec.ts). */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_SQUARE = 0x5b;
export const OPEN_CURLY = 0x7b;
export const CLOSE_SQUARE = 0x5d;
export const CLOSE_CURLY = 0x7d;

/** Whether JSON text nests deeper than `max` (brackets inside strings do not count). One pass, no allocation. */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_SQUARE || b === OPEN_CURLY) {
      if (++depth > max) return true;
    } else if (b === CLOSE_SQUARE || b === CLOSE_CURLY) depth--;
  }
  return false;
}

/** Why a text frame must be dropped unread (too large, not UTF-8, nested too deep), or null. No allocation. */
export function textFrameProblem(bytes: Uint8Array): string | null {
  if (bytes.byteLength > MAX_TEXT_FRAME_BYTES) return 'oversized text frame';
  if (!isUtf8(bytes)) return 'text frame is not valid UTF-8';
  if (nestsDeeperThan(bytes, MAX_TEXT_FRAME_DEPTH)) return 'text frame nested too deep';
  return null;
}

/**
 * What both call transports track about the far end: the marks sent and not yet echoed (Twilio and the web page
 * each echo a mark once, played or cleared; an echo of any other name is a malformed frame, counted and
 * ignored), and whether the far end is gone (reported once, through `onGone`).
 */
/**
 * Marks remembered un-echoed, at most (the oldest forgotten first). A far end that never echoes (a broken client)
 * would otherwise grow the set by ~10 names a second for the whole call; playback paces such a client by the
 * clock anyway. About 3 minutes of marks.
 */
export const MAX_OUTSTANDING_MARKS = 2048;

export class FarEndState {
  private readonly outstanding = new Set<string>();
  private closedWith: string | null = null;
  private endedWith: CallEndReason | undefined;

  constructor(
    private readonly onMalformed: (why: string) => void,
    private readonly onGone: (reason: string, end?: CallEndReason) => void = () => {},
  ) {}

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Why the far end went ('' while it is there). */
  get closeReason(): string {
    return this.closedWith ?? '';
  }

  /** How the call ends when the far end's going was not the caller's doing (see TransportHandlers.onClose). */
  get closeEnd(): CallEndReason | undefined {
    return this.endedWith;
  }

  markSent(name: string): void {
    this.outstanding.add(name);
    if (this.outstanding.size > MAX_OUTSTANDING_MARKS) this.outstanding.delete(this.outstanding.values().next().value as string);
  }

  /** An echo of mark `name` (`what`: the message that carried it): true, once, for a mark we sent; else counted. */
  markEchoed(name: string, what: string): boolean {
    if (this.outstanding.delete(name)) return true;
    this.onMalformed(`${what} for an unknown mark`);
    return false;
  }

  /** Every mark not yet echoed, now forgotten (a clear echoes them all). */
  takeOutstanding(): string[] {
    const names = [...this.outstanding];
    this.outstanding.clear();
    return names;
  }

  /** The far end is gone (stop message, socket closed, our hang-up): forgets its marks and calls onGone, once. */
  close(reason: string, end?: CallEndReason): void {
    if (this.closedWith !== null) return;
    this.closedWith = reason;
    this.endedWith = end;
    this.outstanding.clear();
    this.onGone(reason, end);
  }
}

/**
 * The malformed-frame counter of one call socket: each bad frame counts in parley_malformed_frames_total, and
 * the first of the call is logged (why, never the frame) — the call goes on.
 */
export function malformedFrameCounter(
  metrics: Pick<Metrics, 'malformedFrames'>,
  transport: 'twilio' | 'web',
  log: { warn(obj: object, msg: string): void },
  what: string,
): (why: string) => void {
  let count = 0;
  return (why) => {
    count++;
    metrics.malformedFrames.inc({ transport });
    if (count === 1) log.warn({ why }, `malformed or unexpected ${what} frame (logged once per call)`);
  };
}

/**
 * Calls `gone` once the call's socket has closed, with the call's end reason when the server closed it itself: ws ends a
 * socket whose peer broke the protocol (a frame over MAX_SOCKET_PAYLOAD: 1009; a bad opcode, an unmasked frame or a
 * bad close code: 1002) with an 'error' (code `WS_ERR_…`) before its 'close'. Such an end is `protocol_error`, not the
 * caller's hang-up; any other close (the caller's, the network's) is the caller's.
 */
export function onCallSocketGone(socket: WebSocket, gone: (reason: string, end?: CallEndReason) => void): void {
  let violation: CallEndReason | undefined;
  socket.on('error', (err: Error & { code?: unknown }) => {
    if (typeof err.code === 'string' && err.code.startsWith('WS_ERR_')) violation ??= `protocol_error: ${err.message.slice(0, 200)}`;
  });
  socket.once('close', () => gone(violation ? 'protocol error' : 'socket closed', violation));
}
