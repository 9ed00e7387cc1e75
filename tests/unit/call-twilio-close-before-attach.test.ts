/**
 * The caller hangs up while the call is still being set up (the runner awaits the bot's personalisation, the
 * recording…) — the socket closes, or Twilio's `stop` arrives, before the session attaches. The session must
 * still hear of it once it attaches, or it talks to a dead line until its silence timeout.
 */
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { TwilioMediaTransport } from '../../src/telephony/twilio/media-transport.js';
import type { TransportHandlers } from '../../src/telephony/transport.js';

function fakeSocket(): WebSocket {
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send: () => {},
    close() {
      this.readyState = 3;
    },
  };
  return socket as unknown as WebSocket;
}

function handlers(closes: string[]): TransportHandlers {
  return { onAudio: () => {}, onDtmf: () => {}, onText: () => {}, onMark: () => {}, onClose: (r) => void closes.push(r) };
}

describe('TwilioMediaTransport: the far end gone before attach', () => {
  it('tells the session of a socket that closed before it attached', async () => {
    const t = new TwilioMediaTransport(fakeSocket(), 'MZ1', 'CA1', null);
    t.socketClosed('socket closed');
    const closes: string[] = [];
    t.attach(handlers(closes));
    await Promise.resolve();
    expect(closes).toEqual(['socket closed']);
  });

  it('tells the session of a stop message that came before it attached', async () => {
    const t = new TwilioMediaTransport(fakeSocket(), 'MZ1', 'CA1', null);
    t.receive({ event: 'stop', streamSid: 'MZ1', callSid: 'CA1' });
    const closes: string[] = [];
    t.attach(handlers(closes));
    await Promise.resolve();
    expect(closes).toEqual(['stop']);
    // Once only, even when the socket closes after the stop.
    t.socketClosed('socket closed');
    await Promise.resolve();
    expect(closes).toEqual(['stop']);
  });
});
