/**
 * Web-call recording parts: the stereo WAV (caller left, bot right) aligned on the caller's clock, clear()
 * dropping unplayed bot audio, block-wise writes, the transport decorator, and the filesystem store.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { readWav } from '../../src/audio/wav.js';
import { CallAudioRecorder } from '../../src/recordings/call-audio-recorder.js';
import { FsRecordingStore } from '../../src/recordings/fs-store.js';
import { RecordingTransport } from '../../src/recordings/recording-transport.js';
import { recordingKey } from '../../src/recordings/store.js';
import { WavFileWriter } from '../../src/recordings/wav-file.js';
import type { CallTransport, TransportHandlers } from '../../src/telephony/transport.js';
import { until } from '../helpers/until.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-rec-test-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** `n` PCM16 samples of one value, as bytes (odd byteOffset when `unaligned`, as Node buffers can be). */
function pcm(n: number, value: number, unaligned = false): Uint8Array {
  const backing = new Uint8Array(n * 2 + (unaligned ? 1 : 0));
  const bytes = backing.subarray(unaligned ? 1 : 0);
  for (let i = 0; i < n; i++) {
    bytes[2 * i] = value & 0xff;
    bytes[2 * i + 1] = (value >> 8) & 0xff;
  }
  return bytes;
}

async function channels(path: string): Promise<{ left: Int16Array; right: Int16Array; sampleRate: number }> {
  const wav = readWav(new Uint8Array(await readFile(path)));
  expect(wav).toMatchObject({ encoding: 'pcm16', channels: 2 });
  const samples = new Int16Array(wav.data.slice().buffer);
  const left = new Int16Array(samples.length / 2);
  const right = new Int16Array(samples.length / 2);
  for (let i = 0; i < left.length; i++) {
    left[i] = samples[2 * i]!;
    right[i] = samples[2 * i + 1]!;
  }
  return { left, right, sampleRate: wav.sampleRate };
}

/** A clock that does not move: the caller's frames alone set the timeline. */
const stopped = () => 0;

describe('CallAudioRecorder', () => {
  it('puts the caller left and the bot right, bot audio starting at the caller position when sent', async () => {
    const path = join(dir, 'aligned.wav');
    const rec = new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT, blockFrames: 1000, now: stopped });
    // 100 ms of caller (5 frames of 320 samples), then the bot speaks 200 samples, then 5 more caller frames.
    for (let i = 0; i < 5; i++) rec.caller(pcm(320, 1000, i % 2 === 1));
    rec.bot(pcm(200, -2000));
    rec.bot(pcm(100, -3000)); // queued after the first chunk
    for (let i = 0; i < 5; i++) rec.caller(pcm(320, 1000));
    const done = await rec.finish();
    const { left, right, sampleRate } = await channels(path);
    expect(sampleRate).toBe(16000);
    expect(left.length).toBe(3200);
    expect(done.bytes).toBe(3200 * 4);
    expect(left.every((s) => s === 1000)).toBe(true);
    expect([...right.subarray(0, 1600)].every((s) => s === 0)).toBe(true);
    expect([...right.subarray(1600, 1800)].every((s) => s === -2000)).toBe(true);
    expect([...right.subarray(1800, 1900)].every((s) => s === -3000)).toBe(true);
    expect([...right.subarray(1900)].every((s) => s === 0)).toBe(true);
  });

  it('clear() drops the bot audio not yet played (past the caller position), keeps what was', async () => {
    const path = join(dir, 'cleared.wav');
    const rec = new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT, blockFrames: 700, now: stopped });
    rec.caller(pcm(320, 5));
    rec.bot(pcm(1000, 7)); // plays from 320 to 1320
    rec.caller(pcm(320, 5)); // caller at 640: 320 samples of the bot played
    rec.clear();
    rec.caller(pcm(320, 5)); // caller at 960
    rec.bot(pcm(100, 9)); // the next answer starts at the caller position
    rec.caller(pcm(320, 5));
    await rec.finish();
    const { right } = await channels(path);
    expect(right.length).toBe(1280);
    expect([...right.subarray(320, 640)].every((s) => s === 7)).toBe(true);
    expect([...right.subarray(640, 960)].every((s) => s === 0)).toBe(true);
    expect([...right.subarray(960, 1060)].every((s) => s === 9)).toBe(true);
    expect([...right.subarray(1060)].every((s) => s === 0)).toBe(true);
  });

  it('writes in blocks while the call runs, not at the end and not per frame', async () => {
    const path = join(dir, 'blocks.wav');
    const rec = new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT, blockFrames: 16000, now: stopped });
    const size = async () => (await stat(path).catch(() => ({ size: -1 }))).size;
    for (let i = 0; i < 49; i++) rec.caller(pcm(320, 1)); // 0.98 s: under one block
    await until(async () => (await size()) === 44); // the header, nothing else: no write per frame
    for (let i = 0; i < 2; i++) rec.caller(pcm(320, 1)); // the 50th frame fills the block; the 51st waits
    await until(async () => (await size()) > 44);
    expect(await size()).toBe(44 + 50 * 320 * 4); // one write of the whole block
    await rec.finish();
    const wav = readWav(new Uint8Array(await readFile(path)));
    expect(wav.data.byteLength).toBe(51 * 320 * 4);
  });
});

describe('CallAudioRecorder when the caller\'s frames stop', () => {
  it('keeps time by the clock: the bot\'s words over a stretch with no caller frames, and its goodbye, are where they were played', async () => {
    const path = join(dir, 'quiet-caller.wav');
    let t = 0;
    const rec = new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT, blockFrames: 4000, now: () => t });
    for (let i = 0; i < 5; i++) rec.caller(pcm(320, 1000)); // 100 ms of caller, then nothing more (types, or muted)
    t = 2_000; // the bot answers two seconds in
    rec.bot(pcm(1600, -2000)); // 100 ms
    t = 5_000; // and says goodbye at five
    rec.bot(pcm(1600, -3000));
    t = 5_100;
    const done = await rec.finish();
    const { left, right } = await channels(path);
    expect(left.length).toBe(5.1 * 16000);
    expect(done.durationSec).toBe(5);
    expect([...left.subarray(0, 1600)].every((s) => s === 1000)).toBe(true);
    expect([...left.subarray(1600)].every((s) => s === 0)).toBe(true);
    // Placed where they played: at 2 s and at 5 s.
    const at = (ms: number) => (ms * 16000) / 1000;
    expect([...right.subarray(at(2000), at(2100))].every((s) => s === -2000)).toBe(true);
    expect([...right.subarray(at(5000), at(5100))].every((s) => s === -3000)).toBe(true);
    expect(right.filter((s) => s !== 0)).toHaveLength(3200);
  });
});

describe('CallAudioRecorder with caller frames merely late', () => {
  it('does not push late frames back: within the jitter allowance the caller\'s frames still set the time', async () => {
    const path = join(dir, 'late-caller.wav');
    let t = 0;
    const rec = new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT, blockFrames: 4000, now: () => t });
    for (let i = 0; i < 5; i++) rec.caller(pcm(320, 1000)); // 100 ms of caller
    t = 300; // their next frames are 200 ms late: jitter, not a stop
    rec.bot(pcm(320, -2000));
    for (let i = 0; i < 10; i++) rec.caller(pcm(320, 1000));
    t = 300;
    await rec.finish();
    const { left, right } = await channels(path);
    expect(left.length).toBe(15 * 320);
    expect(left.every((s) => s === 1000)).toBe(true);
    expect([...right.subarray(1600, 1920)].every((s) => s === -2000)).toBe(true);
  });
});

describe('WavFileWriter', () => {
  it('stops recording (with an error) once writes fall 16 MiB behind, instead of growing memory', async () => {
    const w = new WavFileWriter(join(dir, 'behind.wav'), { sampleRate: 16000, channels: 2 });
    // 20 one-MiB blocks queued in one tick: the disk cannot have taken any of them yet.
    for (let i = 0; i < 20; i++) w.append(new Int16Array(512 * 1024));
    expect(String(w.error)).toMatch(/fell 16777216 bytes behind/);
    await expect(w.finish()).rejects.toThrow(/fell .* behind/);
  });
});

describe('RecordingTransport', () => {
  it('taps caller frames and bot audio and passes everything through unchanged', async () => {
    const calls: string[] = [];
    let handlers: TransportHandlers | null = null;
    const inner: CallTransport = {
      kind: 'web', inputFormat: WIDEBAND_FORMAT, outputFormat: WIDEBAND_FORMAT, pendingBytes: 42,
      attach: (h) => {
        handlers = h;
      },
      sendAudio: (c) => void calls.push(`audio:${c.byteLength}`),
      sendMark: (n) => void calls.push(`mark:${n}`),
      clear: () => void calls.push('clear'),
      notify: () => void calls.push('notify'),
      hangup: async (r) => void calls.push(`hangup:${r}`),
      transfer: async () => {
        throw new Error('web calls cannot transfer');
      },
    };
    const path = join(dir, 'transport.wav');
    const t = new RecordingTransport(inner, new CallAudioRecorder({ path, input: WIDEBAND_FORMAT, output: WIDEBAND_FORMAT }));
    const heard: number[] = [];
    t.attach({ onAudio: (f) => void heard.push(f.byteLength), onDtmf: () => {}, onText: () => {}, onMark: () => {}, onClose: () => {} });
    handlers!.onAudio(pcm(320, 3));
    t.sendAudio(pcm(160, 4));
    t.sendMark('m1');
    t.clear();
    await t.hangup('done');
    await expect(t.transfer('+15550001111')).rejects.toThrow('cannot transfer');
    expect(t.kind).toBe('web');
    expect(t.pendingBytes).toBe(42);
    expect(heard).toEqual([640]);
    expect(calls).toEqual(['audio:320', 'mark:m1', 'clear', 'hangup:done']);
  });
});

describe('FsRecordingStore', () => {
  it('moves a finished file in, streams it back, deletes it (twice is fine), refuses foreign keys', async () => {
    const store = new FsRecordingStore(join(dir, 'store'));
    const key = recordingKey('3f1e2d4c-0000-4000-8000-000000000001', '3f1e2d4c-0000-4000-8000-000000000002');
    const spooled = join(dir, 'spooled.wav');
    await writeFile(spooled, 'RIFF-bytes');
    await store.put(key, spooled, 'audio/wav');
    await expect(stat(spooled)).rejects.toThrow();
    const opened = await store.open(key);
    expect(opened!.size).toBe(10);
    const chunks: Buffer[] = [];
    for await (const c of opened!.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('RIFF-bytes');
    await store.delete(key);
    await store.delete(key);
    expect(await store.open(key)).toBeNull();
    await expect(store.open('../../etc/passwd')).rejects.toThrow('Not a recording key');
  });
});
