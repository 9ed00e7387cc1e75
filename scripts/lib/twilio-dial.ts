/**
 * What Twilio does when a call comes in, up to the first audio: the signed voice webhook, the signed media-stream
 * handshake, then `connected` and `start` with the <Parameter>s from the TwiML. Shared by the simulator's caller
 * and the benchmark's caller.
 */
import WebSocket from 'ws';
import { computeSignature } from '../../src/telephony/twilio/signature.js';

export interface DialOptions {
  server: string;
  publicOrigin: string;
  authToken: string;
  from: string;
  to: string;
  callSid: string;
  streamSid: string;
  /** The webhook Twilio fetches: /twilio/voice for a call coming in, the per-call answer URL for one Parley placed. */
  answerPath?: string;
  onMessage(raw: string): void;
  onClose(code: number, reason: string): void;
}

export interface DialedStream {
  ws: WebSocket;
  callId: string;
  /** sequenceNumber of the last message sent (connected = 1, start = 2). */
  seq: number;
}

const ACCOUNT_SID = 'AC00000000000000000000000000000000';

export async function dialTwilioStream(o: DialOptions): Promise<DialedStream> {
  const path = o.answerPath ?? '/twilio/voice';
  const outbound = path !== '/twilio/voice';
  const form = { CallSid: o.callSid, AccountSid: ACCOUNT_SID, From: o.from, To: o.to, Direction: outbound ? 'outbound-api' : 'inbound', CallStatus: outbound ? 'in-progress' : 'ringing' };
  const signature = computeSignature(o.authToken, `${o.publicOrigin}${path}`, form);
  const res = await fetch(`${o.server}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(form).toString(),
  });
  const twiml = await res.text();
  if (res.status !== 200) throw new Error(`voice webhook answered ${res.status}: ${twiml.slice(0, 200)}`);
  const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  if (!streamUrl) throw new Error(`the server did not connect a stream: ${twiml.slice(0, 200)}`);
  const params: Record<string, string> = {};
  for (const m of twiml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) params[m[1]!] = m[2]!.replace(/&amp;/g, '&');

  // Twilio signs the wss URL it was given; we connect to the same path on the server we can reach.
  const wsSignature = computeSignature(o.authToken, streamUrl, {});
  const url = new URL(streamUrl);
  const ws = new WebSocket(`${o.server.replace(/^http/, 'ws')}${url.pathname}${url.search}`, { headers: { 'x-twilio-signature': wsSignature } });
  ws.on('close', (code, reason) => o.onClose(code, reason.toString()));
  ws.on('message', (data) => o.onMessage(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, r) => reject(new Error(`media handshake refused: ${r.statusCode}`)));
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0', sequenceNumber: '1' }));
  ws.send(JSON.stringify({
    event: 'start',
    sequenceNumber: '2',
    start: {
      accountSid: ACCOUNT_SID, streamSid: o.streamSid, callSid: o.callSid, tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: params,
    },
    streamSid: o.streamSid,
  }));
  return { ws, callId: params.callId ?? '', seq: 2 };
}
