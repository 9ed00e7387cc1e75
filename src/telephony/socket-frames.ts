/**
 * Frame checks shared by the two call sockets (/twilio/media and /web-call/socket), so both treat a bad frame
 * the same way: counted as malformed and dropped, the call going on. ws's own UTF-8 check is off
 * (`skipUTF8Validation`, see app.ts) because ws answers an invalid text frame by closing the socket (1007).
 */
import { isUtf8 } from 'node:buffer';
import type { RawData } from 'ws';

/**
 * The largest frame ws reads (`maxPayload`). A larger frame cannot be skipped: ws closes the socket with 1009
 * before the frame reaches us, which ends the call. Frames up to this size are read and, when oversized for their
 * kind, counted and dropped.
 */
export const MAX_SOCKET_PAYLOAD = 4 * 1024 * 1024;
/** Largest text frame decoded; Twilio's and the web client's JSON messages are a few hundred bytes to a few KB. */
export const MAX_TEXT_FRAME_BYTES = 64 * 1024;

/** A frame's bytes without a copy (ws hands a Buffer with the default binaryType; fragments come concatenated). */
export function frameBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Why a text frame must be dropped unread (too large, not UTF-8), or null. No allocation. */
export function textFrameProblem(bytes: Uint8Array): string | null {
  if (bytes.byteLength > MAX_TEXT_FRAME_BYTES) return 'oversized text frame';
  if (!isUtf8(bytes)) return 'text frame is not valid UTF-8';
  return null;
}
