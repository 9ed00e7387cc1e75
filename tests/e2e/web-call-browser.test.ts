/**
 * A real web call in a real browser: headless Chromium (Debian's package) opens Parley's call page, its fake
 * microphone speaks a flite-generated sentence into the call, and the server runs the local providers
 * (pocketsphinx STT, scenario engine, flite TTS) on the real call loop. Checks the caller's words in the stored
 * transcript and that the page actually played the bot's audio and reported its marks.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resampleOffline } from '../../src/audio/resample.js';
import { readWav, wavToPcm16, writeWav } from '../../src/audio/wav.js';
import { wordErrorRate } from '../../src/audio/wer.js';
import { transcriptOf, type CallWithTranscript } from '../../src/db/calls.js';
import { createLogger } from '../../src/log.js';
import { ProviderRegistry } from '../../src/telephony/provider-registry.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import { LocalTtsProvider } from '../../src/providers/tts/local.js';
import { testConfig } from '../../src/config.js';
import { startWebCallApp, type WebCallApp } from '../fixtures/web/web-call-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SENTENCE = 'I would like to book a haircut tomorrow at three';
const RATE = 16000;

let app: WebCallApp;
let browser: Browser;
let dir: string;

/** flite speech at 16 kHz with 4 s of silence before (the greeting plays) and 3 s after (end of turn). */
function callerWav(path: string): void {
  const raw = join(dir, 'flite.wav');
  execFileSync('flite', ['-voice', 'slt', '-t', SENTENCE, '-o', raw]);
  const wav = readWav(new Uint8Array(readFileSync(raw)));
  const speech = resampleOffline(wavToPcm16(wav), wav.sampleRate, RATE);
  const out = new Int16Array(RATE * 4 + speech.length + RATE * 3);
  out.set(speech, RATE * 4);
  writeFileSync(path, writeWav(new Uint8Array(out.buffer), { encoding: 'pcm16', sampleRate: RATE }));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install the Debian package "chromium" (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  dir = mkdtempSync(join(tmpdir(), 'parley-web-e2e-'));
  const wavPath = join(dir, 'caller.wav');
  callerWav(wavPath);
  const log = createLogger('silent');
  const registry = new ProviderRegistry(testConfig(), log, { stt: new LocalSttProvider(), tts: new LocalTtsProvider() });
  app = await startWebCallApp((bot) => registry.forBot(bot));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wavPath}%noloop`,
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('web call in headless Chromium', () => {
  it('speaks into the call from the microphone and plays the bot\'s answer', async () => {
    const { apiKey, botId } = await app.newBot({ allowedOrigins: [app.url] });
    const minted = await app.mint(apiKey, botId);
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app.url}/call/${botId}#token=${encodeURIComponent(minted.token)}`);
    await page.getByRole('button', { name: 'Start call' }).click();
    // Functions, not strings: the page's CSP forbids eval. This project's TypeScript has no DOM types, hence `g`.
    await page.waitForFunction(() => {
      const g = globalThis as unknown as { parleyStats: { callId: string | null; error: string | null } };
      return g.parleyStats.callId !== null || g.parleyStats.error !== null;
    }, null, { timeout: 20_000 });
    const callId = await page.evaluate(() => (globalThis as unknown as { parleyStats: { callId: string } }).parleyStats.callId);
    expect(callId).toBe(minted.call_id);

    // The caller's sentence is recognised, and the bot answers it (a bot line after the caller's final line).
    await page.waitForFunction(() => {
      type Li = { textContent: string; classList: { contains(c: string): boolean } };
      const g = globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<Li> } };
      const items = [...g.document.querySelectorAll('#transcript li')];
      const caller = items.findIndex((li) => li.textContent.startsWith('You:') && !li.classList.contains('interim'));
      return caller >= 0 && items.slice(caller + 1).some((li) => li.textContent.startsWith('Bot:'));
    }, null, { timeout: 90_000 });
    const stats = await page.evaluate(() => ({ ...(globalThis as unknown as { parleyStats: Record<string, unknown> }).parleyStats }));
    await page.getByRole('button', { name: 'Hang up' }).click();
    await page.waitForFunction(() => (globalThis as unknown as { parleyStats: { state: string } }).parleyStats.state === 'ended', null, { timeout: 20_000 });

    let row: CallWithTranscript | undefined;
    for (;;) {
      [row] = await app.db.sql<CallWithTranscript[]>`select c.*, ${transcriptOf(app.db.sql)} as transcript from calls c where c.id = ${minted.call_id}`;
      if (row?.ended_at) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pageErrors).toEqual([]);
    expect(row!.direction).toBe('web');
    expect(row!.status).toBe('completed');
    const caller = row!.transcript.filter((t) => t.role === 'caller').map((t) => t.text).join(' ');
    const wer = wordErrorRate(SENTENCE, caller);
    console.info(`browser web call recognised "${caller}" (WER ${wer.wer.toFixed(2)}); page played ${String(stats.playedSamples)} samples at context rate ${String(stats.contextRate)}`);
    // pocketsphinx on flite speech is imperfect; the words must still be mostly there.
    expect(wer.wer, `recognised "${caller}"`).toBeLessThan(0.5);
    expect(row!.transcript.some((t) => t.role === 'bot' && t.text.length > 0)).toBe(true);
    expect(stats.contextRate).toBeGreaterThan(0);
    expect(stats.framesSent as number).toBeGreaterThan(4 * 50);
    // The greeting alone is over a second of 16 kHz audio, and its marks came back from the playback worklet.
    expect(stats.playedSamples as number).toBeGreaterThan(RATE);
    expect(stats.marksPlayed as number).toBeGreaterThan(0);
    await page.close();
  }, 150_000);
});
