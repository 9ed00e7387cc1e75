import { setImmediate as nextTurn } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { TwilioMediaTransport } from '../../src/telephony/twilio/media-transport.js';

/** The part of a ws socket the transport uses, recording what was sent. */
function fakeSocket() {
  const sent: Array<Record<string, unknown>> = [];
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    closedWith: null as number | null,
    // Twilio reads only text frames: ws sends a string as text, and a buffer as text only with binary: false.
    send: (data: string | Buffer, options?: { binary?: boolean }) => {
      if (typeof data !== 'string' && options?.binary !== false) throw new Error('a buffer sent as a binary frame');
      sent.push(JSON.parse(data.toString()) as Record<string, unknown>);
    },
    close(code: number) {
      this.closedWith = code;
      this.readyState = 3;
    },
  };
  return { socket, sent, ws: socket as unknown as WebSocket };
}

const audioOf = (m: Record<string, unknown>): Buffer => Buffer.from((m.media as { payload: string }).payload, 'base64');
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('TwilioMediaTransport outbound audio', () => {
  it('sends the chunks of one event-loop turn as one media message, in order', async () => {
    const { sent, ws } = fakeSocket();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    t.sendAudio(bytes(160, 1));
    t.sendAudio(bytes(160, 2));
    t.sendAudio(bytes(80, 3));
    expect(sent).toEqual([]);
    expect(t.pendingBytes).toBe(400);
    await nextTurn();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ event: 'media', streamSid: 'MZ1' });
    expect([...audioOf(sent[0]!)]).toEqual([...bytes(160, 1), ...bytes(160, 2), ...bytes(80, 3)]);
    expect(t.pendingBytes).toBe(0);
    // A later turn's audio is its own message.
    t.sendAudio(bytes(160, 4));
    await nextTurn();
    expect(sent).toHaveLength(2);
    expect([...audioOf(sent[1]!)]).toEqual([...bytes(160, 4)]);
  });

  it('puts a mark after the audio it follows', () => {
    const { sent, ws } = fakeSocket();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    t.sendAudio(bytes(160, 1));
    t.sendMark('t1-0');
    expect(sent.map((m) => m.event)).toEqual(['media', 'mark']);
    expect(sent[1]).toEqual({ event: 'mark', streamSid: 'MZ1', mark: { name: 't1-0' } });
  });

  it('drops audio not yet sent when the playback is cleared', async () => {
    const { sent, ws } = fakeSocket();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    t.sendAudio(bytes(160, 1));
    t.clear();
    await nextTurn();
    expect(sent).toEqual([{ event: 'clear', streamSid: 'MZ1' }]);
  });

  it('caps a message at one second of audio', async () => {
    const { sent, ws } = fakeSocket();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    for (let i = 0; i < 60; i++) t.sendAudio(bytes(160, i)); // 1.2 s
    expect(sent).toHaveLength(1);
    expect(audioOf(sent[0]!).length).toBe(8000);
    await nextTurn();
    expect(sent).toHaveLength(2);
    expect(audioOf(sent[1]!).length).toBe(1600);
    expect(audioOf(sent[1]!)[0]).toBe(50);
  });

  it('sends queued audio before hanging up', async () => {
    const { socket, sent, ws } = fakeSocket();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    t.sendAudio(bytes(160, 9));
    await t.hangup('goodbye');
    expect(sent.map((m) => m.event)).toEqual(['media']);
    expect(socket.closedWith).toBe(1000);
  });
});

describe('TwilioMediaTransport inbound frames', () => {
  function attached() {
    const { ws } = fakeSocket();
    const why: string[] = [];
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null, (w) => why.push(w));
    const audio: number[] = [];
    const marks: string[] = [];
    t.attach({ onAudio: (f) => audio.push(f.byteLength), onDtmf: () => {}, onText: () => {}, onMark: (n) => marks.push(n), onClose: () => {} });
    return { t, why, audio, marks };
  }
  const payload = Buffer.alloc(160, 0x7f).toString('base64');

  it('passes inbound audio on and counts bad base64 and other tracks as malformed', () => {
    const { t, why, audio } = attached();
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'inbound', payload });
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'outbound', payload });
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'inbound', payload: 'not base64!' });
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'inbound', payload: `${payload.slice(0, -4)}@@@@` });
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'inbound', payload: '' });
    expect(audio).toEqual([160]);
    expect(why).toEqual(['media on a track other than inbound', 'media payload is not base64', 'media payload is not base64', 'media payload is not base64']);
  });

  it('passes on each sent mark once (played or cleared) and counts any other mark as malformed', () => {
    const { t, why, marks } = attached();
    t.sendMark('a');
    t.sendMark('b');
    t.clear();
    t.receive({ event: 'mark', streamSid: 'MZ1', name: 'a' });
    t.receive({ event: 'mark', streamSid: 'MZ1', name: 'b' });
    t.receive({ event: 'mark', streamSid: 'MZ1', name: 'a' });
    t.receive({ event: 'mark', streamSid: 'MZ1', name: 'z' });
    expect(marks).toEqual(['a', 'b']);
    expect(why).toEqual(['mark for an unknown mark', 'mark for an unknown mark']);
  });

  it('ignores media, marks, keypresses and stops of another stream (or naming none), counting each', () => {
    const why: string[] = [];
    const audio: number[] = [];
    const marks: string[] = [];
    const digits: string[] = [];
    const closes: string[] = [];
    const t = new TwilioMediaTransport(fakeSocket().ws, 'MZ1', 'CA1', null, (w) => why.push(w));
    t.attach({ onAudio: (f) => audio.push(f.byteLength), onDtmf: (d) => digits.push(d), onText: () => {}, onMark: (n) => marks.push(n), onClose: (r) => closes.push(r) });
    t.sendMark('a');
    for (const streamSid of ['MZ2', null]) {
      t.receive({ event: 'media', streamSid, track: 'inbound', payload });
      t.receive({ event: 'mark', streamSid, name: 'a' });
      t.receive({ event: 'dtmf', streamSid, digit: '5' });
      t.receive({ event: 'stop', streamSid, callSid: 'CA1' });
    }
    expect({ audio, marks, digits, closes }).toEqual({ audio: [], marks: [], digits: [], closes: [] });
    expect(why).toEqual(Array(8).fill('frame of another stream'));
    // The stream's own messages still count, the mark included.
    t.receive({ event: 'media', streamSid: 'MZ1', track: 'inbound', payload });
    t.receive({ event: 'mark', streamSid: 'MZ1', name: 'a' });
    t.receive({ event: 'dtmf', streamSid: 'MZ1', digit: '5' });
    expect({ audio, marks, digits }).toEqual({ audio: [160], marks: ['a'], digits: ['5'] });
  });
});
