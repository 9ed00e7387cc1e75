import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { TwilioMediaTransport } from '../../src/telephony/twilio/media-transport.js';
import { FarEndState, MAX_OUTSTANDING_MARKS } from '../../src/telephony/socket-frames.js';

/** A ws socket and the TCP socket under it, recording each send with how corked the TCP socket was. */
function fakeWire() {
  const log: string[] = [];
  let corked = 0;
  const wire = { cork: () => void corked++, uncork: () => void corked-- };
  const ws = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send: (data: string) => void log.push(`${(JSON.parse(data) as { event: string }).event}${corked > 0 ? ' (corked)' : ''}`),
    close() {},
  } as unknown as WebSocket;
  return { ws, wire, log, corked: () => corked };
}

describe('TwilioMediaTransport on a corkable socket', () => {
  it('sends a mark and the audio queued before it in one corked write, and uncorks after', () => {
    const { ws, wire, log, corked } = fakeWire();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null, () => {}, wire);
    t.sendAudio(new Uint8Array(800).fill(1));
    t.sendMark('m1');
    expect(log).toEqual(['media (corked)', 'mark (corked)']);
    expect(corked()).toBe(0);
  });

  it('still works without one (a socket whose TCP side is not reachable)', () => {
    const { ws, log } = fakeWire();
    const t = new TwilioMediaTransport(ws, 'MZ1', 'CA1', null);
    t.sendAudio(new Uint8Array(800).fill(1));
    t.sendMark('m1');
    expect(log).toEqual(['media', 'mark']);
  });
});

describe('FarEndState (both call transports)', () => {
  it('passes each sent mark\'s echo on once and counts any other echo as malformed', () => {
    const why: string[] = [];
    const far = new FarEndState((w) => why.push(w));
    far.markSent('a');
    far.markSent('b');
    expect(far.markEchoed('a', 'mark')).toBe(true);
    expect(far.markEchoed('a', 'mark')).toBe(false);
    expect(far.markEchoed('zzz', 'mark-played')).toBe(false);
    expect(why).toEqual(['mark for an unknown mark', 'mark-played for an unknown mark']);
    expect(far.takeOutstanding()).toEqual(['b']);
    expect(far.takeOutstanding()).toEqual([]);
  });

  it('reports the far end gone once, keeps why, and forgets its marks', () => {
    const gone: string[] = [];
    const far = new FarEndState(() => {}, (reason) => gone.push(reason));
    far.markSent('a');
    expect(far.closed).toBe(false);
    far.close('stop');
    far.close('socket closed');
    expect(gone).toEqual(['stop']);
    expect(far.closed).toBe(true);
    expect(far.closeReason).toBe('stop');
    expect(far.markEchoed('a', 'mark')).toBe(false);
  });

  it('remembers at most MAX_OUTSTANDING_MARKS un-echoed marks, forgetting the oldest (a far end that never echoes)', () => {
    const far = new FarEndState(() => {});
    const sent = MAX_OUTSTANDING_MARKS * 3;
    for (let i = 0; i < sent; i++) far.markSent(`m${i}`);
    expect(far.markEchoed(`m${sent - 1}`, 'mark')).toBe(true);
    expect(far.markEchoed(`m${sent - MAX_OUTSTANDING_MARKS}`, 'mark')).toBe(true);
    expect(far.markEchoed(`m${sent - MAX_OUTSTANDING_MARKS - 1}`, 'mark')).toBe(false);
    expect(far.takeOutstanding()).toHaveLength(MAX_OUTSTANDING_MARKS - 2);
  });
});
