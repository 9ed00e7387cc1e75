import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import {
  base64DecodedCapacity,
  decodeBase64Into,
  decodeMediaPayload,
  decodeTwilioMessage,
  scanFrame,
  SCANNED_MARK,
  SCANNED_MEDIA,
  SCANNED_NONE,
  type FrameSpan,
} from '../../src/telephony/twilio/codec.js';
import { MAX_TEXT_FRAME_BYTES } from '../../src/telephony/socket-frames.js';
import { TwilioMediaTransport } from '../../src/telephony/twilio/media-transport.js';

/** A small deterministic generator, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const bytesOf = (s: string): Buffer => Buffer.from(s, 'utf8');
const span = (): FrameSpan => ({ inbound: false, payloadStart: -1, payloadEnd: -1, nameStart: -1, nameEnd: -1, sidStart: -2, sidEnd: -2, sequence: -2 });

/** What the full path (decodeTwilioMessage, then the transport) makes of a frame: the media or mark it carries, and its stream. */
function fullPath(raw: Buffer): { media: { inbound: boolean; payload: string }; streamSid: string | null } | { mark: string; streamSid: string | null } | null {
  const d = decodeTwilioMessage(raw.toString());
  if (d.ok && d.message.event === 'media') return { media: { inbound: d.message.track === 'inbound', payload: d.message.payload }, streamSid: d.message.streamSid };
  if (d.ok && d.message.event === 'mark') return { mark: d.message.name, streamSid: d.message.streamSid };
  return null;
}

/** What scanFrame reads from the bytes, in the same terms; null when it leaves the frame to the full path. */
function scanned(bytes: Buffer): ReturnType<typeof fullPath> {
  const s = span();
  const kind = scanFrame(bytes, s);
  const streamSid = s.sidStart < 0 ? null : bytes.toString('latin1', s.sidStart, s.sidEnd);
  if (kind === SCANNED_MEDIA) return { media: { inbound: s.inbound, payload: bytes.toString('latin1', s.payloadStart, s.payloadEnd) }, streamSid };
  if (kind === SCANNED_MARK) return { mark: bytes.toString('latin1', s.nameStart, s.nameEnd), streamSid };
  expect(kind).toBe(SCANNED_NONE);
  return null;
}

const payload160 = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 53 + 7) & 255)).toString('base64');
const TWILIO_FRAMES = [
  `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"${payload160}"},"streamSid":"MZ0123456789abcdef"}`,
  `{"event":"media","streamSid":"MZ1","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"${payload160}"}}`,
  `{"streamSid":"MZ","media":{"payload":"AAEC","track":"inbound"},"event":"media"}`,
  '{"event":"media","media":{"payload":"//8="}}',
  '{"event":"media","media":{"track":"outbound","payload":"AAEC"}}',
  '{"event":"media","media":{"track":"inbound","payload":"AA=A"}}',
  '{"event":"media","media":{"track":"inbound","payload":"-_-_"}}',
  '{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"p-3.0~1"}}',
  '{"streamSid":"MZ1","mark":{"name":"turn 1"},"event":"mark"}',
  '{"event":"mark","mark":{"name":""}}',
  '{"event":"mark","mark":{"name":"p-1"},"streamSid":""}',
];

describe('scanFrame: media and mark frames read from the bytes', () => {
  it('takes the frames Twilio sends and reads what JSON.parse would', () => {
    for (const raw of TWILIO_FRAMES) {
      const bytes = bytesOf(raw);
      const got = scanned(bytes);
      expect(got, raw).not.toBeNull();
      expect(got, raw).toEqual(fullPath(bytes));
    }
  });

  it('leaves every other frame to the full path', () => {
    const others = [
      '', '{}', '[]', 'null', '{"event":"media"}', '{"event":"mark"}', '{"event":"mark","mark":{}}', '{"event":"stop"}', '{"event":"dtmf","dtmf":{"digit":"1"}}',
      '{"event":"media","media":{"payload":7}}', '{"event":"media","media":{"payload":"AAAA"}} ', ' {"event":"media","media":{"payload":"AAAA"}}',
      '{"event": "media","media":{"payload":"AAAA"}}', '{"event":"media","media":{"payload":"AA\\u0041A"}}', '{"event":"media","media":{"payload":"AAAA"},"x":1}',
      '{"event":"media","media":{"payload":"AAAA","payload":"BBBB"}}', '{"event":"media","event":"stop","media":{"payload":"AAAA"}}',
      '{"event":"media","media":{"payload":"AAAA"}', '{"event":"media","media":{"payload":"AAAA"}}}', '{"event":"média","media":{"payload":"AAAA"}}',
      '{"event":"media" junk "media":{"payload":"AAAA"}}', '{"event":"media","media":{"payload":"AAAA","track":"inbound"},"media":{"payload":"BBBB"}}',
      '{"event":"mark","mark":{"name":"a","name":"b"}}', '{"event":"mark","mark":{"name":"a\\"b"}}', '{"event":"mark","mark":{"name":"é"}}',
      '{"event":"mark","media":{"payload":"AAAA"}}', '{"event":"media","mark":{"name":"a"}}', '{"event":"mark","mark":{"name":"a"},"mark":{"name":"b"}}',
      '{"event":"media","streamSid":"MZ1","streamSid":"MZ2","media":{"payload":"AAAA"}}', '{"event":"media","streamSid":"MZ\\u0031","media":{"payload":"AAAA"}}',
    ];
    for (const raw of others) expect(scanned(bytesOf(raw)), raw).toBeNull();
    // Oversized frames go the full way, where they are counted as oversized.
    const big = bytesOf(`{"event":"media","media":{"payload":"${'A'.repeat(MAX_TEXT_FRAME_BYTES)}"}}`);
    expect(scanned(big)).toBeNull();
  });

  it('never reads a frame differently from the full path (20 000 mutated frames)', () => {
    const next = rng(16);
    const pieces = ['"', '\\', '{', '}', ':', ',', ' ', '\n', 'é', '\u0000', 'A', '=', '-', 'media', 'mark', 'name', 'event', 'payload', 'track', 'inbound', '"media"', '"mark"', '"payload":"', '"name":"', '1', 'true', '[', ']', '\ud83d', 'streamSid', '"streamSid":"MZ1",'];
    let taken = 0;
    let refused = 0;
    for (let k = 0; k < 20_000; k++) {
      let raw = TWILIO_FRAMES[Math.floor(next() * TWILIO_FRAMES.length)]!;
      for (let m = 1 + Math.floor(next() * 3); m > 0; m--) {
        const at = Math.floor(next() * (raw.length + 1));
        const op = next();
        const piece = pieces[Math.floor(next() * pieces.length)]!;
        if (op < 0.4) raw = raw.slice(0, at) + piece + raw.slice(at);
        else if (op < 0.7) raw = raw.slice(0, at) + raw.slice(at + 1 + Math.floor(next() * 4));
        else raw = raw.slice(0, at) + piece + raw.slice(at + piece.length);
      }
      const bytes = bytesOf(raw);
      const got = scanned(bytes);
      if (got === null) {
        refused++;
        continue;
      }
      taken++;
      expect(got, raw).toEqual(fullPath(bytes));
    }
    // Both ways are exercised.
    expect(taken).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });
});

describe('decodeBase64Into', () => {
  function viaBytes(payload: string): number[] | null {
    const src = Buffer.from(`xx${payload}yy`, 'latin1'); // an offset into a larger buffer, as in a frame
    const into = new Uint8Array(base64DecodedCapacity(payload.length));
    const n = decodeBase64Into(src, 2, 2 + payload.length, into);
    return n < 0 ? null : [...into.subarray(0, n)];
  }
  const viaString = (payload: string): number[] | null => {
    const b = decodeMediaPayload(payload);
    return b ? [...b] : null;
  };

  it('decodes what decodeMediaPayload decodes and refuses what it refuses', () => {
    for (const n of [1, 2, 3, 4, 159, 160, 161, 162]) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 255));
      expect(viaBytes(bytes.toString('base64')), String(n)).toEqual([...bytes]);
      expect(viaBytes(bytes.toString('base64url').padEnd(Math.ceil(n / 3) * 4, '=')), `url ${n}`).toEqual([...bytes]);
    }
    for (const bad of ['', 'A', 'AAA', 'AA=A', '@@@@', 'AA AA', 'AAAA\n', '////====', 'A===', '====', `${'A'.repeat(8)}*AAA`]) {
      expect(viaBytes(bad), JSON.stringify(bad)).toBeNull();
      expect(viaString(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it('agrees with decodeMediaPayload on 20 000 random strings', () => {
    const next = rng(7);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';
    const odd = '= \n*.%\t\u007f';
    let valid = 0;
    for (let k = 0; k < 20_000; k++) {
      const len = Math.floor(next() * 4) * 4 + (next() < 0.1 ? Math.floor(next() * 4) : 0);
      let s = '';
      for (let i = 0; i < len; i++) s += next() < 0.04 ? odd[Math.floor(next() * odd.length)] : alphabet[Math.floor(next() * alphabet.length)];
      if (next() < 0.3 && len >= 4) s = s.slice(0, len - (next() < 0.5 ? 1 : 2)).padEnd(len, '=');
      const expected = viaString(s);
      if (expected) valid++;
      expect(viaBytes(s), JSON.stringify(s)).toEqual(expected);
    }
    expect(valid).toBeGreaterThan(4000);
  });
});

describe('TwilioMediaTransport.receiveFrame', () => {
  function transport() {
    const socket = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: () => {}, close: () => {} };
    const malformed: string[] = [];
    const t = new TwilioMediaTransport(socket as unknown as WebSocket, 'MZ1', 'CA1', null, (why) => malformed.push(why));
    const heard: number[][] = [];
    const marks: string[] = [];
    t.attach({ onAudio: (f) => heard.push([...f]), onDtmf: () => {}, onText: () => {}, onMark: (name) => marks.push(name), onClose: () => {} });
    return { t, heard, malformed, marks };
  }
  const frame = (payload: string, track = 'inbound', streamSid = 'MZ1'): Buffer => bytesOf(`{"event":"media","streamSid":"${streamSid}","media":{"track":"${track}","payload":"${payload}"}}`);

  it('hands the audio on, counts what the full path counts, and leaves other frames to it', () => {
    const { t, heard, malformed } = transport();
    const a = Buffer.from(Array.from({ length: 160 }, (_, i) => i));
    const b = Buffer.from([9, 8, 7]);
    expect(t.receiveFrame(frame(a.toString('base64')))).toBe(true);
    expect(t.receiveFrame(frame(b.toString('base64')))).toBe(true);
    expect(t.receiveFrame(frame(a.toString('base64')))).toBe(true);
    expect(heard).toEqual([[...a], [...b], [...a]]);
    expect(t.receiveFrame(frame('AAEC', 'outbound'))).toBe(true);
    expect(t.receiveFrame(frame('AA=A'))).toBe(true);
    expect(malformed).toEqual(['media on a track other than inbound', 'media payload is not base64']);
    expect(t.receiveFrame(bytesOf('{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA1"}}'))).toBe(false);
    expect(t.receiveFrame(bytesOf('{"event":"media", "media":{"payload":"AAEC"}}'))).toBe(false);
    expect(heard).toHaveLength(3);
  });

  it('takes no audio or mark echo of another stream, or of a frame naming none: each is counted, none heard', () => {
    const { t, heard, marks, malformed } = transport();
    t.sendMark('p-1.0');
    const audio = Buffer.from([1, 2, 3]).toString('base64');
    expect(t.receiveFrame(frame(audio, 'inbound', 'MZ2'))).toBe(true);
    expect(t.receiveFrame(frame(audio, 'inbound', 'MZ10'))).toBe(true);
    expect(t.receiveFrame(frame(audio, 'inbound', 'MZ'))).toBe(true);
    expect(t.receiveFrame(bytesOf(`{"event":"media","media":{"track":"inbound","payload":"${audio}"}}`))).toBe(true);
    expect(t.receiveFrame(bytesOf('{"event":"mark","streamSid":"MZ2","mark":{"name":"p-1.0"}}'))).toBe(true);
    expect(heard).toEqual([]);
    expect(marks).toEqual([]);
    expect(malformed).toEqual(Array(5).fill('frame of another stream'));
    // The stream's own frames still pass (the other stream's echo did not use up the mark).
    expect(t.receiveFrame(frame(audio))).toBe(true);
    expect(t.receiveFrame(bytesOf('{"event":"mark","streamSid":"MZ1","mark":{"name":"p-1.0"}}'))).toBe(true);
    expect(heard).toEqual([[1, 2, 3]]);
    expect(marks).toEqual(['p-1.0']);
    // The span is reused frame to frame: a frame naming no stream after one of this stream is still refused.
    expect(t.receiveFrame(bytesOf(`{"event":"media","media":{"track":"inbound","payload":"${audio}"}}`))).toBe(true);
    expect(heard).toHaveLength(1);
  });

  it('echoes a mark it sent once, and counts an echo of any other', () => {
    const { t, marks, malformed } = transport();
    t.sendMark('p-1.0');
    const echo = bytesOf('{"event":"mark","sequenceNumber":"9","streamSid":"MZ1","mark":{"name":"p-1.0"}}');
    expect(t.receiveFrame(echo)).toBe(true);
    expect(t.receiveFrame(echo)).toBe(true);
    expect(marks).toEqual(['p-1.0']);
    expect(malformed).toEqual(['mark for an unknown mark']);
  });
});
