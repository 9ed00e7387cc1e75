/**
 * The Twilio Media Streams wire format, without sockets or clocks.
 * Inbound: connected, start, media, mark, dtmf, stop. Outbound: media, mark, clear.
 */

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
  /** `payload` is the base64 μ-law audio, decoded by the caller only when needed. */
  | { event: 'media'; track: string; payload: string }
  | { event: 'mark'; name: string }
  | { event: 'dtmf'; digit: string }
  | { event: 'stop'; callSid: string | null };

export type DecodeResult = { ok: true; message: TwilioInbound } | { ok: false; error: string };

const str = (v: unknown): v is string => typeof v === 'string';
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const MEDIA_PREFIX = '{"event":"media"';
const PAYLOAD_KEY = '"payload":"';
const TRACK_KEY = '"track":"';

/**
 * Media frames are 50 a second per call: Twilio writes them with `event` first, so they are picked apart with
 * two indexOf calls instead of a full JSON.parse. Anything unusual falls through to the full parser.
 */
function decodeMediaFast(raw: string): DecodeResult | null {
  if (!raw.startsWith(MEDIA_PREFIX)) return null;
  const p = raw.indexOf(PAYLOAD_KEY);
  if (p < 0) return null;
  const start = p + PAYLOAD_KEY.length;
  const end = raw.indexOf('"', start);
  if (end < 0) return null;
  const t = raw.indexOf(TRACK_KEY);
  const track = t < 0 ? 'inbound' : raw.slice(t + TRACK_KEY.length, raw.indexOf('"', t + TRACK_KEY.length));
  return { ok: true, message: { event: 'media', track, payload: raw.slice(start, end) } };
}

/** Parses one text frame. Never throws: a bad frame is an error value the transport counts. */
export function decodeTwilioMessage(raw: string): DecodeResult {
  const fast = decodeMediaFast(raw);
  if (fast) return fast;
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!obj(m) || !str(m.event)) return { ok: false, error: 'no event field' };
  switch (m.event) {
    case 'connected':
      return { ok: true, message: { event: 'connected' } };
    case 'media': {
      const media = m.media;
      if (!obj(media) || !str(media.payload)) return { ok: false, error: 'media without payload' };
      return { ok: true, message: { event: 'media', track: str(media.track) ? media.track : 'inbound', payload: media.payload } };
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
      return { ok: true, message: { event: 'mark', name: mark.name } };
    }
    case 'dtmf': {
      const d = m.dtmf;
      if (!obj(d) || !str(d.digit) || !/^[0-9*#A-D]$/.test(d.digit)) return { ok: false, error: 'dtmf without a digit' };
      return { ok: true, message: { event: 'dtmf', digit: d.digit } };
    }
    case 'stop': {
      const s = m.stop;
      return { ok: true, message: { event: 'stop', callSid: obj(s) && str(s.callSid) ? s.callSid : null } };
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

export function encodeMedia(streamSid: string, audio: Uint8Array): string {
  const payload = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64');
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${payload}"}}`;
}

export function encodeMark(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

export function encodeClear(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
