/** The web-call simulator (scripts/call-web.ts) against a live server: mints with an API key, talks, records. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav, writeWav } from '../../src/audio/wav.js';
import { runWebCall } from '../../scripts/call-web.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { startWebCallApp, type WebCallApp } from '../fixtures/web/web-call-harness.js';

let app: WebCallApp;
let stt: ScriptedStt;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-sim-'));
  app = await startWebCallApp(() => {
    stt = new ScriptedStt();
    return {
      stt,
      llm: new ScriptedLlm((r) => `Answer ${r.messages.filter((m) => m.role === 'user').length}.`, { firstTokenMs: 5 }),
      tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1, bytesPerWord: 640 }),
    };
  });
}, 180_000);
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('runWebCall', () => {
  it('mints a token, holds a typed conversation, and writes the bot audio it played', async () => {
    const { apiKey, botId } = await app.newBot();
    const outWav = join(dir, 'bot.wav');
    const lines: string[] = [];
    const result = await runWebCall({ server: app.url, apiKey, botId, text: ['What are your hours', 'Thanks'], typed: true, outWav, realtime: false, print: (l) => lines.push(l) });
    expect(result.transcript.map((t) => `${t.role}: ${t.text}`)).toEqual([
      'bot: Hello, thanks for calling. How can I help?',
      'caller: What are your hours',
      'bot: Answer 1.',
      'caller: Thanks',
      'bot: Answer 2.',
    ]);
    expect(result.latencies).toHaveLength(2);
    expect(result.latencies[0]!.clientFirstAudioMs).toEqual(expect.any(Number));
    const wav = readWav(new Uint8Array(readFileSync(outWav)));
    expect(wav.sampleRate).toBe(16000);
    expect(wav.data.length).toBe(result.botAudioBytes);
    expect(result.botAudioBytes).toBeGreaterThan(0);
    const [row] = await app.db.sql`select direction, status from calls where id = ${result.callId}`;
    expect(row).toMatchObject({ direction: 'web', status: 'completed' });
    expect(lines.some((l) => l.includes('caller: What are your hours'))).toBe(true);
  });

  it('streams a WAV as 20 ms frames of 16 kHz PCM16', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const wavPath = join(dir, 'caller.wav');
    // 1 s at 8 kHz → 2 s of 16 kHz frames incl. 1.5 s tail → 16000 + 24000 samples / 320 = 125 frames.
    writeFileSync(wavPath, writeWav(new Uint8Array(16000), { encoding: 'pcm16', sampleRate: 8000 }));
    const result = await runWebCall({ server: app.url, token: minted.token, wav: wavPath, realtime: false, print: () => {}, turnTimeoutMs: 500 });
    expect(result.callId).toBe(minted.call_id);
    expect(stt.audioFrames).toBe(125);
  });

  it('refuses clearly when the token is bad', async () => {
    await expect(runWebCall({ server: app.url, token: 'wct_nope', realtime: false, print: () => {} })).rejects.toThrow(/refused/);
  });
});
