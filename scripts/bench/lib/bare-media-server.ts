/**
 * The transport floor's server (scripts/bench/transport-floor.ts): the `ws` server Parley's media route runs on,
 * with Parley's socket options, and none of Parley.
 *  - `receive`: each Twilio frame is taken off the socket and dropped;
 *  - `forward`: each frame's audio is read with Parley's own byte scanner and base64 decoder (the cheapest way
 *    there is) and sent on to a Deepgram-like socket in 60 ms packets, as the call loop does;
 *  - `tcp`: no WebSocket at all — a plain TCP server whose bytes are read and dropped (the callers write the same
 *    frames without a handshake): the part of the floor that is the kernel and Node's socket alone.
 *   node --import tsx scripts/bench/lib/bare-media-server.ts receive|forward|tcp SINK_PORT
 * Prints {"port":N} on stdout once listening.
 */
import { createServer, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MAX_SOCKET_PAYLOAD } from '../../../src/telephony/socket-frames.js';
import { base64DecodedCapacity, decodeBase64Into, scanFrame, SCANNED_MEDIA, type FrameSpan } from '../../../src/telephony/twilio/codec.js';

const PACKET_BYTES = 480; // 60 ms of 8 kHz μ-law, Parley's Deepgram packet

const mode = process.argv[2];
const sinkPort = Number(process.argv[3]);
if (mode !== 'receive' && mode !== 'forward' && mode !== 'tcp') throw new Error('mode: receive | forward | tcp');

const ready = (address: AddressInfo | string | null): void => {
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
};

/** Decodes each media frame's audio and sends it on in 60 ms packets. */
function forwarder(upstream: WebSocket): (data: Buffer) => void {
  const span: FrameSpan = { inbound: true, payloadStart: 0, payloadEnd: 0, nameStart: 0, nameEnd: 0, sidStart: -1, sidEnd: -1, sequence: -1 };
  let decoded = new Uint8Array(160);
  let packet = Buffer.allocUnsafe(PACKET_BYTES);
  let fill = 0;
  return (data) => {
    if (scanFrame(data, span) !== SCANNED_MEDIA) return;
    const capacity = base64DecodedCapacity(span.payloadEnd - span.payloadStart);
    if (decoded.length < capacity) decoded = new Uint8Array(capacity);
    const n = decodeBase64Into(data, span.payloadStart, span.payloadEnd, decoded);
    let from = 0;
    while (from < n) {
      const take = Math.min(n - from, PACKET_BYTES - fill);
      packet.set(decoded.subarray(from, from + take), fill);
      fill += take;
      from += take;
      if (fill === PACKET_BYTES) {
        // Packets made before the upstream socket opens wait for it (as Parley holds audio while Deepgram connects).
        if (upstream.readyState === WebSocket.OPEN) upstream.send(packet);
        else if (upstream.readyState === WebSocket.CONNECTING) upstream.once('open', ((p: Buffer) => () => upstream.send(p))(packet));
        packet = Buffer.allocUnsafe(PACKET_BYTES);
        fill = 0;
      }
    }
  };
}

if (mode === 'tcp') {
  const tcp = createServer((socket) => socket.on('data', () => {}));
  tcp.listen(0, '127.0.0.1', () => ready(tcp.address()));
} else {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: MAX_SOCKET_PAYLOAD, skipUTF8Validation: true, perMessageDeflate: false });
  server.on('connection', (socket, request) => {
    if (mode === 'receive') {
      socket.on('message', () => {});
      return;
    }
    // The caller's path (its stream's index) names the sink connection, so the generator can match packets to frames.
    const upstream = new WebSocket(`ws://127.0.0.1:${sinkPort}${request.url ?? '/'}`, { perMessageDeflate: false });
    socket.on('message', forwarder(upstream));
    socket.on('close', () => upstream.close());
  });
  server.on('listening', () => ready(server.address()));
}
