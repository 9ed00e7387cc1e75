/**
 * The web-call wire format (PROTOCOL.md), without sockets or clocks. Binary frames are PCM16 LE mono 16 kHz
 * audio both ways; text frames are JSON objects with a `type`.
 */
import type { TransportNotice } from '../transport.js';
import { storableText } from '../../util/storable-text.js';
import { WIDEBAND_FORMAT } from '../../audio/format.js';

export type WebClientMessage =
  | { type: 'start'; token: string }
  | { type: 'text'; text: string }
  | { type: 'dtmf'; digit: string }
  | { type: 'mark-played'; name: string }
  | { type: 'end' };

export type WebServerMessage =
  | { type: 'ready'; call_id: string }
  | { type: 'mark'; name: string }
  | { type: 'clear' }
  | { type: 'ended'; reason: string }
  | { type: 'error'; code: string; message: string }
  | TransportNotice;

export type WebDecodeResult = { ok: true; message: WebClientMessage } | { ok: false; error: string };

/** Largest inbound audio frame accepted (1 s); clients send 20 ms (640 bytes). */
export const MAX_AUDIO_FRAME_BYTES = 32_000;
export const MAX_TEXT_CHARS = 2000;

const str = (v: unknown): v is string => typeof v === 'string';

/** Parses one text frame. Never throws: a bad frame is an error value the socket counts. */
export function decodeWebClientMessage(raw: string): WebDecodeResult {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return { ok: false, error: 'not an object' };
  const o = m as Record<string, unknown>;
  if (!str(o.type)) return { ok: false, error: 'no type field' };
  switch (o.type) {
    case 'start': {
      if (!str(o.token) || o.token.length === 0 || o.token.length > 200) return { ok: false, error: 'start without token' };
      const format = declaredFormatProblem(o);
      return format ? { ok: false, error: format } : { ok: true, message: { type: 'start', token: o.token } };
    }
    case 'text': {
      // A NUL or an unpaired surrogate is cleaned out here, so the turn reaches the bot and the transcript whole.
      const text = str(o.text) ? storableText(o.text) : '';
      return text.trim().length > 0 && text.length <= MAX_TEXT_CHARS
        ? { ok: true, message: { type: 'text', text } }
        : { ok: false, error: 'text without text' };
    }
    case 'dtmf':
      return str(o.digit) && /^[0-9*#A-D]$/.test(o.digit) ? { ok: true, message: { type: 'dtmf', digit: o.digit } } : { ok: false, error: 'dtmf without a digit' };
    case 'mark-played':
      return str(o.name) && o.name.length <= 200 ? { ok: true, message: { type: 'mark-played', name: o.name } } : { ok: false, error: 'mark-played without name' };
    case 'end':
      return { ok: true, message: { type: 'end' } };
    default:
      return { ok: false, error: `unknown type "${o.type.slice(0, 32)}"` };
  }
}

/**
 * The socket carries one audio format (WIDEBAND_FORMAT, mono). A start may declare it (`encoding`, `sample_rate`,
 * `channels`); one that declares another is refused before its token is used: its audio would otherwise be taken
 * for 16 kHz PCM16 and misheard without a word (48 kHz read at a third of its speed, Opus or floats as noise).
 */
function declaredFormatProblem(o: Record<string, unknown>): string | null {
  const { encoding, sampleRate } = WIDEBAND_FORMAT;
  const declared = [
    o.encoding !== undefined && o.encoding !== encoding ? `encoding ${JSON.stringify(o.encoding).slice(0, 32)}` : null,
    o.sample_rate !== undefined && o.sample_rate !== sampleRate ? `sample_rate ${JSON.stringify(o.sample_rate).slice(0, 32)}` : null,
    o.channels !== undefined && o.channels !== 1 ? `channels ${JSON.stringify(o.channels).slice(0, 32)}` : null,
  ].filter((d) => d !== null);
  return declared.length === 0 ? null : `unsupported audio (${declared.join(', ')}): the socket carries ${encoding} little-endian mono at ${sampleRate} Hz`;
}

/** Checks an inbound binary frame: whole PCM16 samples, not empty, not huge. Returns an error or null. */
export function checkAudioFrame(byteLength: number): string | null {
  if (byteLength === 0) return 'empty audio frame';
  if (byteLength % 2 !== 0) return 'odd-length audio frame';
  if (byteLength > MAX_AUDIO_FRAME_BYTES) return 'audio frame too large';
  return null;
}

export function encodeWebServerMessage(message: WebServerMessage): string {
  return JSON.stringify(message);
}
