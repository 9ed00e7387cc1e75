/**
 * The Twilio Media Streams wire format, without sockets or clocks.
 * Inbound: connected, start, media, mark, dtmf, stop. Outbound: media, mark, clear.
 */
import { BACKSLASH, CLOSE_CURLY, MAX_TEXT_FRAME_BYTES, OPEN_CURLY, QUOTE } from '../socket-frames.js';

export type TwilioInbound =
  | { event: 'connected' }
  | {
      event: 'start';
      streamSid: string;
      callSid: string;
      accountSid: string;
      tracks: string[];
      mediaFormat: { encoding: string; sampleRate: number; channels: number };
      customParameters: Record<string, string>;
    }
  /**
   * `payload` is the base64 μ-law audio, decoded by the caller only when needed. `streamSid` (null when absent):
   * the stream the message belongs to, which the transport checks against its own (Twilio names it in every message).
   */
  | { event: 'media'; streamSid: string | null; track: string; payload: string }
  | { event: 'mark'; streamSid: string | null; name: string }
  | { event: 'dtmf'; streamSid: string | null; digit: string }
  | { event: 'stop'; streamSid: string | null; callSid: string | null };

/** `sequence`: the message's sequenceNumber (Twilio counts every message of a stream from 1), -1 when absent or not a count. */
export type DecodeResult = { ok: true; message: TwilioInbound; sequence: number } | { ok: false; error: string };
type Decoded = { ok: true; message: TwilioInbound } | { ok: false; error: string };

/** The longest sequenceNumber read: 15 digits stay exact in a double (a stream of 20 ms frames reaches 10^15 never). */
const MAX_SEQUENCE_DIGITS = 15;

/** A sequenceNumber's value: a string of decimal digits (as Twilio sends it), else -1. */
function sequenceOf(v: unknown): number {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_SEQUENCE_DIGITS && /^[0-9]+$/.test(v) ? Number(v) : -1;
}

const str = (v: unknown): v is string => typeof v === 'string';
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses one text frame. Never throws: a bad frame is an error value the transport counts. */
export function decodeTwilioMessage(raw: string): DecodeResult {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!obj(m) || !str(m.event)) return { ok: false, error: 'no event field' };
  const decoded = decodeObject(m as Record<string, unknown> & { event: string });
  return decoded.ok ? { ...decoded, sequence: sequenceOf(m.sequenceNumber) } : decoded;
}

function decodeObject(m: Record<string, unknown> & { event: string }): Decoded {
  const streamSid = str(m.streamSid) ? m.streamSid : null;
  switch (m.event) {
    case 'connected':
      return { ok: true, message: { event: 'connected' } };
    case 'media': {
      const media = m.media;
      if (!obj(media) || !str(media.payload)) return { ok: false, error: 'media without payload' };
      return { ok: true, message: { event: 'media', streamSid, track: str(media.track) ? media.track : 'inbound', payload: media.payload } };
    }
    case 'start': {
      const s = m.start;
      if (!obj(s) || !str(s.streamSid) || !str(s.callSid)) return { ok: false, error: 'start without streamSid/callSid' };
      const params: Record<string, string> = {};
      if (obj(s.customParameters)) for (const [k, v] of Object.entries(s.customParameters)) if (str(v)) params[k] = v;
      const mf = obj(s.mediaFormat) ? s.mediaFormat : {};
      return {
        ok: true,
        message: {
          event: 'start',
          streamSid: s.streamSid,
          callSid: s.callSid,
          accountSid: str(s.accountSid) ? s.accountSid : '',
          tracks: Array.isArray(s.tracks) ? s.tracks.filter(str) : [],
          mediaFormat: {
            encoding: str(mf.encoding) ? mf.encoding : 'audio/x-mulaw',
            sampleRate: typeof mf.sampleRate === 'number' ? mf.sampleRate : 8000,
            channels: typeof mf.channels === 'number' ? mf.channels : 1,
          },
          customParameters: params,
        },
      };
    }
    case 'mark': {
      const mark = m.mark;
      if (!obj(mark) || !str(mark.name)) return { ok: false, error: 'mark without name' };
      return { ok: true, message: { event: 'mark', streamSid, name: mark.name } };
    }
    case 'dtmf': {
      const d = m.dtmf;
      if (!obj(d) || !str(d.digit) || !/^[0-9*#A-D]$/.test(d.digit)) return { ok: false, error: 'dtmf without a digit' };
      return { ok: true, message: { event: 'dtmf', streamSid, digit: d.digit } };
    }
    case 'stop': {
      const s = m.stop;
      return { ok: true, message: { event: 'stop', streamSid, callSid: obj(s) && str(s.callSid) ? s.callSid : null } };
    }
    default:
      return { ok: false, error: `unknown event "${m.event.slice(0, 32)}"` };
  }
}

/**
 * The audio of a media payload, or null when the payload is not canonical base64 (Node's decoder skips bad
 * characters silently: a payload whose decoded length is not what its length promises had some).
 */
export function decodeMediaPayload(payload: string): Buffer | null {
  const n = payload.length;
  if (n === 0 || n % 4 !== 0) return null;
  const pad = payload.charCodeAt(n - 1) === 61 ? (payload.charCodeAt(n - 2) === 61 ? 2 : 1) : 0; // '='
  const audio = Buffer.from(payload, 'base64');
  return audio.byteLength === (n / 4) * 3 - pad ? audio : null;
}

/** The start of every outbound media message of a stream, up to its payload (serialised once per call). */
export function mediaMessagePrefix(streamSid: string): string {
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`;
}

/** Base64's standard alphabet, as Twilio sends and expects it. */
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Its digits as byte codes, for writing. */
const BASE64_CODES = Buffer.from(BASE64_ALPHABET, 'latin1');
const PAD = 0x3d;

/**
 * An outbound media message as the UTF-8 bytes of its JSON: `prefix` (mediaMessagePrefix's bytes), the base64
 * audio, then `"}}`. Written straight into one buffer: a 100 ms slice otherwise became a base64 string, a joined
 * string that ws flattens, then a copy into a buffer — ~2.3 KB of short-lived heap per slice, 10 a second for
 * every call the bot is speaking on. Send it as a text frame (ws: `{ binary: false }`).
 */
export function encodeMediaAfter(prefix: Uint8Array, audio: Uint8Array): Buffer {
  const n = audio.byteLength;
  const out = Buffer.allocUnsafe(prefix.byteLength + Math.ceil(n / 3) * 4 + 3);
  out.set(prefix, 0);
  let o = prefix.byteLength;
  const full = n - (n % 3);
  for (let i = 0; i < full; i += 3) {
    const v = (audio[i]! << 16) | (audio[i + 1]! << 8) | audio[i + 2]!;
    out[o++] = BASE64_CODES[v >> 18]!;
    out[o++] = BASE64_CODES[(v >> 12) & 63]!;
    out[o++] = BASE64_CODES[(v >> 6) & 63]!;
    out[o++] = BASE64_CODES[v & 63]!;
  }
  if (n > full) {
    const two = n - full === 2;
    const v = (audio[full]! << 16) | (two ? audio[full + 1]! << 8 : 0);
    out[o++] = BASE64_CODES[v >> 18]!;
    out[o++] = BASE64_CODES[(v >> 12) & 63]!;
    out[o++] = two ? BASE64_CODES[(v >> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  out[o] = QUOTE;
  out[o + 1] = CLOSE;
  out[o + 2] = CLOSE;
  return out;
}

export function encodeMedia(streamSid: string, audio: Uint8Array): Buffer {
  return encodeMediaAfter(Buffer.from(mediaMessagePrefix(streamSid)), audio);
}

/** The start of every outbound mark message of a stream, up to the mark's name (serialised once per call). */
export function markMessagePrefix(streamSid: string): string {
  return `{"event":"mark","streamSid":${JSON.stringify(streamSid)},"mark":{"name":`;
}

/** An outbound mark message: `prefix` from markMessagePrefix(), then the name. */
export function encodeMarkAfter(prefix: string, name: string): string {
  return `${prefix}${JSON.stringify(name)}}}`;
}

export function encodeMark(streamSid: string, name: string): string {
  return encodeMarkAfter(markMessagePrefix(streamSid), name);
}

export function encodeClear(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}

// ---------- the inbound hot path: 50 media frames a second per call (and a mark echo per 100 ms of bot audio) ----------

/** What scanFrame found, as byte ranges of the frame (one object per call, rewritten for each frame). */
export interface FrameSpan {
  /** media.track is "inbound" (or absent, which decodeTwilioMessage also reads as inbound). */
  inbound: boolean;
  /** media.payload: bytes [payloadStart, payloadEnd) of the frame. */
  payloadStart: number;
  payloadEnd: number;
  /** mark.name: bytes [nameStart, nameEnd). */
  nameStart: number;
  nameEnd: number;
  /** The top-level streamSid: bytes [sidStart, sidEnd); both -1 when the frame names none. */
  sidStart: number;
  sidEnd: number;
  /** The top-level sequenceNumber's value; -1 when the frame has none or it is not a string of digits. */
  sequence: number;
}

export const SCANNED_NONE = 0;
export const SCANNED_MEDIA = 1;
export const SCANNED_MARK = 2;
export type ScanResult = typeof SCANNED_NONE | typeof SCANNED_MEDIA | typeof SCANNED_MARK;

const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = OPEN_CURLY;
const CLOSE = CLOSE_CURLY;
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const KEY_EVENT = ascii('event');
const KEY_MEDIA = ascii('media');
const KEY_MARK = ascii('mark');
const KEY_PAYLOAD = ascii('payload');
const KEY_TRACK = ascii('track');
const KEY_NAME = ascii('name');
const KEY_STREAM_SID = ascii('streamSid');
const KEY_SEQUENCE = ascii('sequenceNumber');
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const VALUE_INBOUND = ascii('inbound');

/** The index of the quote closing a string whose first character is at `i`; -1 unless printable ASCII without escapes. */
function plainStringEnd(b: Uint8Array, i: number): number {
  for (const n = b.length; i < n; i++) {
    const c = b[i]!;
    if (c === QUOTE) return i;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}

/** Bytes [start, end) of `b` read as a decimal count (sequenceOf's rule), -1 unless 1–15 digits. */
function digitsValue(b: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > MAX_SEQUENCE_DIGITS) return -1;
  let v = 0;
  for (let k = start; k < end; k++) {
    const c = b[k]!;
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    v = v * 10 + (c - DIGIT_0);
  }
  return v;
}

/** Whether bytes [start, end) of `b` are `word`. */
export function bytesEqual(b: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word[k]) return false;
  return true;
}

/**
 * The hot path of /twilio/media: a media or mark frame read in one pass over its bytes — no string, no
 * JSON.parse, no objects. It takes only frames in the shape Twilio sends — compact JSON: an object of plain string
 * members plus a `media` or `mark` object of plain string members (printable ASCII, no escapes), none of event,
 * media, mark, payload, track, name, streamSid repeated — with event "media" (and media.payload) or "mark" (and mark.name);
 * for those, what it reads is what JSON.parse would. Anything else — other events, whitespace, escapes,
 * non-ASCII, numbers, malformed JSON, oversized frames — is SCANNED_NONE and goes the full way (size and UTF-8
 * checks, decodeTwilioMessage), so every frame is judged exactly as before.
 */
export function scanFrame(b: Uint8Array, out: FrameSpan): ScanResult {
  const n = b.length;
  if (n > MAX_TEXT_FRAME_BYTES || b[0] !== OPEN) return SCANNED_NONE;
  let i = 1;
  let event: ScanResult = SCANNED_NONE;
  let sawEvent = false;
  let sawMedia = false;
  let sawMark = false;
  let sawTrack = false;
  let payloadStart = -1;
  let payloadEnd = -1;
  let nameStart = -1;
  let nameEnd = -1;
  let sidStart = -1;
  let sidEnd = -1;
  let sequence = -1;
  let inbound = true;
  for (;;) {
    if (b[i] !== QUOTE) return SCANNED_NONE;
    const keyStart = i + 1;
    const keyEnd = plainStringEnd(b, keyStart);
    if (keyEnd < 0 || b[keyEnd + 1] !== COLON) return SCANNED_NONE;
    i = keyEnd + 2;
    const isMedia = bytesEqual(b, keyStart, keyEnd, KEY_MEDIA);
    if (isMedia || bytesEqual(b, keyStart, keyEnd, KEY_MARK)) {
      if (b[i] !== OPEN || (isMedia ? sawMedia : sawMark)) return SCANNED_NONE;
      if (isMedia) sawMedia = true;
      else sawMark = true;
      i++;
      for (;;) {
        if (b[i] !== QUOTE) return SCANNED_NONE;
        const k0 = i + 1;
        const k1 = plainStringEnd(b, k0);
        if (k1 < 0 || b[k1 + 1] !== COLON || b[k1 + 2] !== QUOTE) return SCANNED_NONE;
        const v0 = k1 + 3;
        const v1 = plainStringEnd(b, v0);
        if (v1 < 0) return SCANNED_NONE;
        if (isMedia && bytesEqual(b, k0, k1, KEY_PAYLOAD)) {
          if (payloadStart >= 0) return SCANNED_NONE;
          payloadStart = v0;
          payloadEnd = v1;
        } else if (isMedia && bytesEqual(b, k0, k1, KEY_TRACK)) {
          if (sawTrack) return SCANNED_NONE;
          sawTrack = true;
          inbound = bytesEqual(b, v0, v1, VALUE_INBOUND);
        } else if (!isMedia && bytesEqual(b, k0, k1, KEY_NAME)) {
          if (nameStart >= 0) return SCANNED_NONE;
          nameStart = v0;
          nameEnd = v1;
        }
        i = v1 + 1;
        if (b[i] === COMMA) i++;
        else if (b[i] === CLOSE) break;
        else return SCANNED_NONE;
      }
      i++;
    } else {
      if (b[i] !== QUOTE) return SCANNED_NONE;
      const v0 = i + 1;
      const v1 = plainStringEnd(b, v0);
      if (v1 < 0) return SCANNED_NONE;
      if (bytesEqual(b, keyStart, keyEnd, KEY_EVENT)) {
        if (sawEvent) return SCANNED_NONE;
        sawEvent = true;
        event = bytesEqual(b, v0, v1, KEY_MEDIA) ? SCANNED_MEDIA : bytesEqual(b, v0, v1, KEY_MARK) ? SCANNED_MARK : SCANNED_NONE;
        if (event === SCANNED_NONE) return SCANNED_NONE;
      } else if (bytesEqual(b, keyStart, keyEnd, KEY_STREAM_SID)) {
        if (sidStart >= 0) return SCANNED_NONE;
        sidStart = v0;
        sidEnd = v1;
      } else if (bytesEqual(b, keyStart, keyEnd, KEY_SEQUENCE)) {
        sequence = digitsValue(b, v0, v1);
      }
      i = v1 + 1;
    }
    if (b[i] === COMMA) i++;
    else if (b[i] === CLOSE) break;
    else return SCANNED_NONE;
  }
  if (i !== n - 1) return SCANNED_NONE;
  out.sidStart = sidStart;
  out.sidEnd = sidEnd;
  out.sequence = sequence;
  if (event === SCANNED_MEDIA && payloadStart >= 0) {
    out.inbound = inbound;
    out.payloadStart = payloadStart;
    out.payloadEnd = payloadEnd;
    return SCANNED_MEDIA;
  }
  if (event === SCANNED_MARK && nameStart >= 0) {
    out.nameStart = nameStart;
    out.nameEnd = nameEnd;
    return SCANNED_MARK;
  }
  return SCANNED_NONE;
}

/** Base64 digit values; Node's decoder takes both alphabets (+/ and -_), so this does too. -1: not a digit. */
const BASE64_DIGIT = new Int8Array(256).fill(-1);
BASE64_CODES.forEach((code, v) => (BASE64_DIGIT[code] = v));
BASE64_DIGIT[0x2d] = 62; // '-'
BASE64_DIGIT[0x5f] = 63; // '_'

/** Bytes that decodeBase64Into may write for `length` characters of base64. */
export const base64DecodedCapacity = (length: number): number => (length >> 2) * 3;

/**
 * decodeMediaPayload on bytes [start, end) of `src`, into `into` (at least base64DecodedCapacity long): the
 * number of bytes written, or -1 for exactly the payloads decodeMediaPayload refuses — empty, a length not a
 * multiple of 4, any character outside the base64 alphabets before the one or two closing '='.
 */
export function decodeBase64Into(src: Uint8Array, start: number, end: number, into: Uint8Array): number {
  const n = end - start;
  if (n === 0 || (n & 3) !== 0) return -1;
  const pad = src[end - 1] === 0x3d ? (src[end - 2] === 0x3d ? 2 : 1) : 0; // '='
  const full = end - (pad ? 4 : 0); // the last group with padding is decoded on its own
  let o = 0;
  let bad = 0;
  for (let i = start; i < full; i += 4) {
    const a = BASE64_DIGIT[src[i]!]!;
    const b = BASE64_DIGIT[src[i + 1]!]!;
    const c = BASE64_DIGIT[src[i + 2]!]!;
    const d = BASE64_DIGIT[src[i + 3]!]!;
    bad |= a | b | c | d; // a -1 sets the sign bit
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    into[o++] = v >> 16;
    into[o++] = v >> 8;
    into[o++] = v;
  }
  if (pad) {
    const a = BASE64_DIGIT[src[full]!]!;
    const b = BASE64_DIGIT[src[full + 1]!]!;
    const c = pad === 1 ? BASE64_DIGIT[src[full + 2]!]! : 0;
    bad |= a | b | c;
    const v = (a << 18) | (b << 12) | (c << 6);
    into[o++] = v >> 16;
    if (pad === 1) into[o++] = v >> 8;
  }
  return bad < 0 ? -1 : o;
}
