/**
 * What the wire of a phone call costs with no Parley on it: N Twilio media streams (a 20 ms μ-law frame per
 * stream every 20 ms, in Twilio's JSON) into a bare `ws` server with Parley's socket options, in its own process
 * (scripts/bench/lib/bare-media-server.ts), first only received, then also forwarded to a Deepgram-like socket
 * in 100 ms packets; and, for the part that is the kernel and Node's socket alone, the same frames' bytes into a
 * plain TCP server (no WebSocket). Its CPU per call-second is the floor under `npm run bench:calls` on the same machine: compare
 * the two to see what Parley's own work costs (bench:calls --listen-only-ms: the same line with Parley on it, no
 * turns; a full run: with turns). The forward mode also times each packet's transit — the caller sends the frame
 * that completes a 100 ms packet → the packet reaches the Deepgram-like sink — the same hop bench:calls reports as
 * "caller frame → Deepgram, transit": what this machine and harness add to that hop with no Parley on it.
 *   npx tsx scripts/bench/transport-floor.ts [--calls 50] [--seconds 20] [--pin 0:1  (server CPUs : generator CPUs)]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { cpuSeconds, loadAverage } from './lib/proc-stats.js';
import { fmtSummary, summarize, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    pin: { type: 'string' },
  },
});
const N = Number(args.calls);
const SECONDS = Number(args.seconds);
const FRAME_MS = 20;
const WARM_MS = 3000;
const [serverCpus, generatorCpus] = (args.pin ?? '').split(':');
if (!Number.isInteger(N) || N < 1 || !(SECONDS > 0)) throw new Error('--calls takes a positive integer, --seconds a positive number');
if (args.pin && (!serverCpus || !generatorCpus)) throw new Error('--pin takes SERVER_CPUS:GENERATOR_CPUS, e.g. 0:1');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A frame as Twilio sends it: JSON text, numbers as strings, 160 bytes of μ-law silence in base64. */
function twilioFrame(streamSid: string, n: number): string {
  const payload = Buffer.alloc(160, 0xff).toString('base64');
  return JSON.stringify({ event: 'media', sequenceNumber: String(n + 2), media: { track: 'inbound', chunk: String(n + 1), timestamp: String(n * FRAME_MS), payload }, streamSid });
}

/** The frame as a client puts it on the wire: a masked text frame (a zero mask: the payload reads the same). */
function wireFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 0xffff) throw new Error('frame too long for this harness');
  return Buffer.concat([Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff, 0, 0, 0, 0]), payload]);
}

type Mode = 'receive' | 'forward' | 'tcp';

async function startServer(mode: Mode, sinkPort: number): Promise<{ child: ChildProcess; port: number }> {
  const nodeArgs = ['--import', 'tsx', 'scripts/bench/lib/bare-media-server.ts', mode, String(sinkPort)];
  const [command, commandArgs] = serverCpus ? ['taskset', ['-c', serverCpus, process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

/** 100 ms packets, as Parley sends Deepgram: every fifth 20 ms frame completes one. */
const FRAMES_PER_PACKET = 5;

async function measure(mode: Mode): Promise<{ cpuMsPerCallSecond: number; received: number; transit: Summary | null }> {
  let received = 0;
  /** Per stream: when each frame was handed to its socket (performance.now()); packets matched by order. */
  const sentAt: number[][] = Array.from({ length: N }, () => []);
  const transits: number[] = [];
  let measuring = false;
  const sink = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  sink.on('connection', (s, request) => {
    const stream = Number((request.url ?? '/').slice(1));
    let packets = 0;
    s.on('message', () => {
      received++;
      const sent = sentAt[stream]?.[packets * FRAMES_PER_PACKET + FRAMES_PER_PACKET - 1];
      packets++;
      if (measuring && sent !== undefined) transits.push(performance.now() - sent);
    });
  });
  await new Promise((r) => sink.once('listening', r));
  const { child, port } = await startServer(mode, (sink.address() as { port: number }).port);
  const sockets = await Promise.all(Array.from({ length: N }, (_, i) => new Promise<WebSocket | Socket>((resolve, reject) => {
    if (mode === 'tcp') {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
      return;
    }
    const s = new WebSocket(`ws://127.0.0.1:${port}/${i}`, { perMessageDeflate: false });
    s.once('open', () => resolve(s));
    s.once('error', reject);
  })));
  // Each stream sends on its own 20 ms clock, the streams' clocks spread over one frame, as calls are.
  const frames = sockets.map((_, i) => Array.from({ length: 50 }, (__, n) => twilioFrame(`MZ${String(i).padStart(32, '0')}`, n)));
  const wire = mode === 'tcp' ? frames.map((f) => f.map(wireFrame)) : null;
  const timers: NodeJS.Timeout[] = [];
  sockets.forEach((s, i) => {
    let n = 0;
    const sent = sentAt[i]!;
    const tick = s instanceof WebSocket
      ? () => {
          sent.push(performance.now());
          s.send(frames[i]![n++ % 50]!);
        }
      : () => void s.write(wire![i]![n++ % 50]!);
    setTimeout(() => timers.push(setInterval(tick, FRAME_MS)), (i * FRAME_MS) / N);
  });
  await sleep(WARM_MS);
  const pid = child.pid!;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  measuring = true;
  await sleep(SECONDS * 1000);
  measuring = false;
  const cpu = cpuSeconds(pid) - cpu0;
  const wall = (performance.now() - t0) / 1000;
  for (const t of timers) clearInterval(t);
  for (const s of sockets) {
    if (s instanceof WebSocket) s.terminate();
    else s.destroy();
  }
  child.kill('SIGTERM');
  sink.close();
  return { cpuMsPerCallSecond: (cpu * 1000) / (N * wall), received, transit: mode === 'forward' ? summarize(transits) : null };
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  if (generatorCpus) spawn('taskset', ['-pc', generatorCpus, String(process.pid)], { stdio: 'ignore' });
  const tcp = await measure('tcp');
  const receive = await measure('receive');
  const forward = await measure('forward');
  const out = [
    '',
    `=== transport floor — ${N} Twilio media streams, no Parley (${SECONDS} s each, load average ${loadBefore} → ${loadAverage()}) ===`,
    `  TCP only                ${tcp.cpuMsPerCallSecond.toFixed(2)} CPU-ms per call-second  (the same bytes into a plain TCP server: the kernel and Node's socket, no WebSocket)`,
    `  receive only            ${receive.cpuMsPerCallSecond.toFixed(2)} CPU-ms per call-second  (50 JSON frames a second per call into ws: kernel, Node's socket, ws's parser)`,
    `  receive + forward       ${forward.cpuMsPerCallSecond.toFixed(2)} CPU-ms per call-second  (+ each frame's audio decoded and sent on in 100 ms packets: ${forward.received} packets reached the sink)`,
    `  forward transit         ${forward.transit ? fmtSummary(forward.transit) : '-'}  (the frame completing a 100 ms packet sent → the packet at the sink; bench:calls' "caller frame → Deepgram, transit" with no Parley)`,
    `  server process pinned   ${serverCpus ? `CPU ${serverCpus}, generator on CPU ${generatorCpus}` : 'no (--pin SERVER:GENERATOR to pin)'}`,
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`transport floor failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
