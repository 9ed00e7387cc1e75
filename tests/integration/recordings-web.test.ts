/**
 * Web-call recording end to end on the real call loop: a bot with recording enabled gets a stereo WAV (caller
 * left, bot right) stored when the call ends, its key and duration on the call; GET /v1/calls/:id/recording streams
 * it to the owning company only; a bot without recording stores nothing; erasure and retention delete the file.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { purgeExpired } from '../../src/privacy/retention.js';
import type { FsRecordingStore } from '../../src/recordings/fs-store.js';
import { recordingServices, type RecordingServices } from '../../src/recordings/settings.js';
import type { TtsProvider, TtsTurn } from '../../src/providers/types.js';
import { AsyncQueue } from '../../src/util/async-queue.js';
import { ScriptedLlm, ScriptedStt } from '../helpers/scripted-providers.js';
import { until } from '../helpers/until.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { storedTranscript } from '../helpers/transcript.js';

const BOT_SAMPLE = -1234;
const CALLER_SAMPLE = 2345;

/** A TTS whose audio is a constant sample per word (so the bot's channel is recognisable in the WAV). */
class ToneTts implements TtsProvider {
  readonly name = 'tone';
  async open() {
    return {
      startTurn: (signal: AbortSignal): TtsTurn => {
        const input = new AsyncQueue<string>();
        async function* audio(): AsyncIterable<Uint8Array> {
          for await (const text of input) {
            for (const _word of text.split(/\s+/).filter(Boolean)) {
              if (signal.aborted) return;
              const chunk = new Uint8Array(640);
              for (let i = 0; i < 320; i++) new DataView(chunk.buffer).setInt16(i * 2, BOT_SAMPLE, true);
              yield chunk;
            }
          }
        }
        return { pushText: (t) => input.push(t), end: () => input.close(), audio: audio(), cancel: async () => input.abort() };
      },
      close: async () => {},
    };
  }
}

let t: WebCallApp;
let recordings: RecordingServices;

beforeAll(async () => {
  t = await startWebCallApp(() => ({ stt: new ScriptedStt(), llm: new ScriptedLlm(() => 'Noted.', { firstTokenMs: 1, tokenMs: 1 }), tts: new ToneTts() }), {
    // The same services the API's recording route builds from this config (one store directory).
    runner: (_db, config) => ({ recordings: (recordings = recordingServices(config)) }),
  });
}, 60_000);
afterAll(async () => t.close());

const company = (recording: Record<string, unknown> | null) => t.newBot(recording ? { recording } : {});

/** One web call: the greeting plays, the caller sends `frames` 20 ms frames, then ends the call. */
async function call(c: { apiKey: string; botId: string }, frames: number): Promise<string> {
  const { call_id: callId, token } = await t.mint(c.apiKey, c.botId);
  const client = await WebCallClient.connect(t.wsUrl, PUBLIC_URL);
  client.send({ type: 'start', token });
  await client.untilMessage((m) => m.type === 'ready');
  await client.until(() => client.audioBytes > 0);
  const frame = new Uint8Array(640);
  for (let i = 0; i < 320; i++) new DataView(frame.buffer).setInt16(i * 2, CALLER_SAMPLE, true);
  for (let i = 0; i < frames; i++) client.sendRaw(frame);
  client.send({ type: 'end' });
  await client.closed;
  return callId;
}

describe('web-call recording', () => {
  let a: { companyId: string; apiKey: string; botId: string };
  let callId: string;

  beforeAll(async () => {
    a = await company({ enabled: true });
    callId = await call(a, 100);
  }, 60_000);

  it('stores a stereo WAV, caller left and bot right, and its key, duration and channels on the call', async () => {
    const row = await until(async () => (await t.db.sql`select recording_key, recording_duration_sec, recording_channels, recording_sid from calls where id = ${callId} and recording_key is not null`)[0]);
    expect(row).toMatchObject({ recording_key: `${a.companyId}/${callId}.wav`, recording_channels: 2, recording_sid: null });
    const res = await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}/recording`, headers: t.as(a.apiKey) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/wav');
    const wav = readWav(new Uint8Array(res.rawPayload));
    expect(wav).toMatchObject({ encoding: 'pcm16', sampleRate: 16000, channels: 2 });
    const samples = new Int16Array(wav.data.slice().buffer);
    const frames = samples.length / 2;
    expect(frames).toBe(100 * 320); // the caller's frames are the clock
    let left = 0;
    let right = 0;
    let crossed = 0;
    for (let i = 0; i < frames; i++) {
      if (samples[2 * i] === CALLER_SAMPLE) left++;
      if (samples[2 * i + 1] === BOT_SAMPLE) right++;
      if (samples[2 * i + 1] === CALLER_SAMPLE || samples[2 * i] === BOT_SAMPLE) crossed++;
    }
    expect(left).toBe(frames);
    expect(crossed).toBe(0);
    expect(right).toBeGreaterThan(0); // the greeting, as far as it had played while the caller was there
    expect(row!.recording_duration_sec).toBe(Math.round(frames / 16000));
    const detail = await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}`, headers: t.as(a.apiKey) });
    expect(detail.json().recording).toEqual({ source: 'parley', duration_sec: row!.recording_duration_sec, channels: 2 });
    // The spooled file is gone; the stored one is where the store keeps it.
    await expect(stat(join(recordings.spoolDir, `${callId}.wav`))).rejects.toThrow();
  });

  it('is the owning company\'s only; a bot that does not record stores nothing', async () => {
    const other = await company(null);
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${callId}/recording`, headers: t.as(other.apiKey) })).statusCode).toBe(404);
    const plain = await call(other, 10);
    await until(async () => (await t.db.sql`select 1 from calls where id = ${plain} and ended_at is not null`)[0]);
    const [row] = await t.db.sql`select recording_key from calls where id = ${plain}`;
    expect(row!.recording_key).toBeNull();
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${plain}`, headers: t.as(other.apiKey) })).json().recording).toBeNull();
    expect((await t.app.inject({ method: 'GET', url: `/v1/calls/${plain}/recording`, headers: t.as(other.apiKey) })).statusCode).toBe(404);
  });

  it('speaks the recording notice first on a web call (Twilio speaks it in TwiML)', async () => {
    const noticed = await company({ enabled: true, notice: 'This call is recorded.' });
    const id = await call(noticed, 100);
    const [row] = await until(async () => {
      const rows = await t.db.sql`select 1 from calls where id = ${id} and ended_at is not null`;
      return rows.length ? [{ transcript: await storedTranscript(t.db.sql, id) }] : undefined;
    });
    expect(row!.transcript[0]!.role).toBe('bot');
    // The transcript keeps what the caller heard of the greeting: it starts with the notice.
    expect(row!.transcript[0]!.text).toMatch(/^This call is recorded\./);
  });

  it('retention deletes the stored file with the call', async () => {
    const key = `${a.companyId}/${callId}.wav`;
    const path = join((recordings.store as FsRecordingStore).dir, key);
    expect((await stat(path)).size).toBeGreaterThan(44);
    await t.db.sql`update calls set started_at = now() - interval '10 days' where id = ${callId}`;
    await t.db.sql`update companies set retention_days = 5 where id = ${a.companyId}`;
    const purged = await purgeExpired(t.db.sql, { recordings });
    expect(purged).toMatchObject({ calls: 1, recordings: 1 });
    await expect(stat(path)).rejects.toThrow();
    expect(await recordings.store.open(key)).toBeNull();
  });
});
