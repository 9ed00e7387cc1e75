import { describe, expect, it } from 'vitest';
import { decodeMediaPayload, decodeTwilioMessage, encodeClear, encodeMark, encodeMedia } from '../../src/telephony/twilio/codec.js';
import { signCallToken, verifyCallToken } from '../../src/telephony/call-token.js';

describe('Twilio media-stream codec', () => {
  it('decodes every inbound event from the documented shapes', () => {
    expect(decodeTwilioMessage('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({ ok: true, message: { event: 'connected' }, sequence: -1 });
    const start = decodeTwilioMessage(JSON.stringify({
      event: 'start', sequenceNumber: '1', streamSid: 'MZ1',
      start: { accountSid: 'AC1', streamSid: 'MZ1', callSid: 'CA1', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: { callId: 'c1', token: 't', junk: 5 } },
    }));
    expect(start).toEqual({ ok: true, message: { event: 'start', streamSid: 'MZ1', callSid: 'CA1', accountSid: 'AC1', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: { callId: 'c1', token: 't' } }, sequence: 1 });
    expect(decodeTwilioMessage('{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"//8="},"streamSid":"MZ1"}'))
      .toEqual({ ok: true, message: { event: 'media', streamSid: 'MZ1', track: 'inbound', payload: '//8=' }, sequence: 4 });
    expect(decodeTwilioMessage('{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"p-3"}}')).toEqual({ ok: true, message: { event: 'mark', streamSid: 'MZ1', name: 'p-3' }, sequence: 4 });
    expect(decodeTwilioMessage('{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"#"}}')).toEqual({ ok: true, message: { event: 'dtmf', streamSid: 'MZ1', digit: '#' }, sequence: 5 });
    expect(decodeTwilioMessage('{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"AC1","callSid":"CA1"},"streamSid":"MZ1"}')).toEqual({ ok: true, message: { event: 'stop', streamSid: 'MZ1', callSid: 'CA1' }, sequence: 5 });
  });

  it('reads media frames the same whichever field order Twilio uses', () => {
    const expected = { ok: true, message: { event: 'media', streamSid: 'MZ', track: 'inbound', payload: 'AAEC' } };
    expect(decodeTwilioMessage('{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"AAEC"},"streamSid":"MZ"}')).toEqual({ ...expected, sequence: 3 });
    // A frame without a sequenceNumber (or with one that is not a count of digits) reads as -1.
    expect(decodeTwilioMessage('{"event":"media","media":{"payload":"AAEC","track":"inbound"},"streamSid":"MZ"}')).toEqual({ ...expected, sequence: -1 });
    expect(decodeTwilioMessage('{"streamSid":"MZ","sequenceNumber":"x7","media":{"payload":"AAEC","track":"inbound"},"event":"media"}')).toEqual({ ...expected, sequence: -1 });
    expect(decodeTwilioMessage('{"event":"media","media":{"track":"outbound","payload":"AAEC"}}')).toMatchObject({ message: { track: 'outbound' } });
  });

  it('turns malformed frames into error values, never exceptions', () => {
    for (const raw of ['', 'not json', '[]', 'null', '{"event":5}', '{"event":"media"}', '{"event":"media","media":{"payload":7}}', '{"event":"start","start":{}}',
      '{"event":"mark","mark":{}}', '{"event":"dtmf","dtmf":{"digit":"12"}}', '{"event":"hello"}', '{"no":"event"}']) {
      const r = decodeTwilioMessage(raw);
      expect(r.ok, raw).toBe(false);
    }
  });

  it('encodes outbound media, mark and clear as Twilio expects', () => {
    const audio = new Uint8Array([0xff, 0x7f, 0x00]);
    expect(JSON.parse(encodeMedia('MZ1', audio).toString())).toEqual({ event: 'media', streamSid: 'MZ1', media: { payload: Buffer.from(audio).toString('base64') } });
    // A view into a larger buffer encodes only its own bytes.
    const big = new Uint8Array([1, 2, 3, 4, 5]);
    expect(JSON.parse(encodeMedia('MZ1', big.subarray(1, 3)).toString()).media.payload).toBe(Buffer.from([2, 3]).toString('base64'));
    expect(JSON.parse(encodeMark('MZ1', 'turn-1'))).toEqual({ event: 'mark', streamSid: 'MZ1', mark: { name: 'turn-1' } });
    expect(JSON.parse(encodeClear('MZ1'))).toEqual({ event: 'clear', streamSid: 'MZ1' });
  });

  it('writes the base64 of every length and byte value as Node does (padding included)', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (let n = 0; n <= 803; n++) {
      const audio = Uint8Array.from({ length: n }, (_, i) => (n < 260 ? (i + n) & 255 : random()));
      const frame = encodeMedia('MZ"\\1', audio).toString('utf8');
      expect(JSON.parse(frame), `length ${n}`).toEqual({ event: 'media', streamSid: 'MZ"\\1', media: { payload: Buffer.from(audio).toString('base64') } });
    }
  });
});

describe('call tokens', () => {
  it('verify only with the right secret, audience and before expiry', () => {
    const now = 1_000_000;
    const token = signCallToken('s3cret', { callId: 'c1', aud: 'twilio-media', exp: now + 1000 });
    expect(verifyCallToken('s3cret', token, 'twilio-media', now)).toMatchObject({ callId: 'c1' });
    expect(verifyCallToken('other', token, 'twilio-media', now)).toBeNull();
    expect(verifyCallToken('s3cret', token, 'web-call', now)).toBeNull();
    expect(verifyCallToken('s3cret', token, 'twilio-media', now + 2000)).toBeNull();
    const [body, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ callId: 'c2', aud: 'twilio-media', exp: now + 1000 })).toString('base64url');
    expect(verifyCallToken('s3cret', `${forged}.${mac}`, 'twilio-media', now)).toBeNull();
    expect(verifyCallToken('s3cret', `${body}`, 'twilio-media', now)).toBeNull();
  });
});

describe('decodeMediaPayload', () => {
  it('decodes canonical base64 and refuses anything Node would silently skip or cut', () => {
    for (const n of [1, 2, 3, 160, 161, 162]) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 255));
      expect([...decodeMediaPayload(bytes.toString('base64'))!], String(n)).toEqual([...bytes]);
    }
    for (const bad of ['', 'A', 'AAA', 'AA=A', '@@@@', 'AA AA', 'AAAA\n', '////====', `${'A'.repeat(8)}*AAA`]) {
      expect(decodeMediaPayload(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
