/**
 * The no-keys path end to end: the real composition root (startServer) with local providers — pocketsphinx,
 * the scenario engine, flite — and a simulated Twilio caller speaking flite audio. Twilio's 8 kHz band defeats
 * the local recognizer (README › Local parts), so this checks the call mechanics and persistence, not the words.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { DEMO_BOT_CONFIG } from '../../scripts/lib/demo.js';
import { speak } from '../../scripts/lib/speech-audio.js';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';

describe('an offline phone call through the real server', () => {
  let server: RunningServer;
  let apiKey: string;
  const number = '+15550109999';

  beforeAll(async () => {
    const config = testConfig({ PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: 'http://localhost:3000', ADMIN_TOKEN: 'admin-e2e-0123456789abcdefghijklmnopqrst', TWILIO_AUTH_TOKEN: 'twilio-e2e' });
    server = await startServer(config, createLogger('silent'), { port: 0 });
    const company = await fetch(`${server.url}/v1/admin/companies`, { method: 'POST', headers: { authorization: 'Bearer admin-e2e-0123456789abcdefghijklmnopqrst', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Offline salon' }) });
    apiKey = ((await company.json()) as { api_key: { key: string } }).api_key.key;
    const bot = await fetch(`${server.url}/v1/bots`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Desk', phone_number: number, language: 'en', config: DEMO_BOT_CONFIG }) });
    expect(bot.status).toBe(201);
  });
  afterAll(async () => server?.stop());

  it('greets, hears the caller, answers, and stores every turn', async () => {
    const caller = await TwilioCaller.dial({ server: server.url, publicOrigin: 'http://localhost:3000', authToken: 'twilio-e2e', from: '+15557654321', to: number });
    expect(await caller.waitForBotAudio(20_000)).toBe(true);
    await caller.waitForBotQuiet(700, 30_000);
    await caller.say(await speak('What are your opening hours on Saturday?', TWILIO_FORMAT));
    expect(await caller.waitForBotAudio(30_000)).toBe(true);
    // Hang up once the bot's answer to the caller has been written (turns are stored as they complete).
    const transcriptNow = async () => {
      const res = await fetch(`${server.url}/v1/calls/${caller.callId}`, { headers: { authorization: `Bearer ${apiKey}` } });
      return ((await res.json()) as { transcript: Array<{ role: string }> }).transcript;
    };
    for (let i = 0; i < 300; i++) {
      const t = await transcriptNow();
      const c = t.findIndex((e) => e.role === 'caller');
      if (c >= 0 && t.slice(c + 1).some((e) => e.role === 'bot')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await caller.hangup();

    let call: { status: string; transcript: Array<{ role: string; text: string; latency?: Record<string, number | null> }> } | undefined;
    for (let i = 0; i < 100 && call?.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await fetch(`${server.url}/v1/calls/${caller.callId}`, { headers: { authorization: `Bearer ${apiKey}` } });
      call = (await res.json()) as typeof call;
    }
    expect(call!.status).toBe('completed');
    expect(call!.transcript[0]).toMatchObject({ role: 'bot', text: DEMO_BOT_CONFIG.greeting });
    const callerTurn = call!.transcript.find((t) => t.role === 'caller');
    expect(callerTurn?.text.length).toBeGreaterThan(0);
    const answer = call!.transcript.slice(call!.transcript.indexOf(callerTurn!)).find((t) => t.role === 'bot');
    expect(answer?.text.length).toBeGreaterThan(0);
    expect(answer?.latency?.ttsFirstAudioMs, JSON.stringify(call!.transcript)).toBeGreaterThan(0);
    // The greeting's audio reached the caller as μ-law frames.
    expect(caller.botAudioBytes).toBeGreaterThan(8000);
  });
});
