/**
 * Call simulator: acts as Twilio (or, with --web, as a browser) against a running Parley.
 *
 *   npm run call -- --text "Hi, I'd like a haircut tomorrow at 3 pm" --text "Anna" --text "Thanks, bye"
 *   npm run call -- --wav caller.wav --to +15550100000 --out bot.wav
 *   npm run call -- --web --text "What are your opening hours?"
 *
 * Without --to it uses a demo bot (created on first use through the admin API, token from DATA_DIR/admin-token);
 * with --to NUMBER --api-key KEY it calls that company's bot. The server is http://127.0.0.1:$PORT (PORT as for the
 * server, default 3000) unless --server or PARLEY_SERVER says otherwise; --public-url (or PUBLIC_URL) must be the
 * server's PUBLIC_URL, as Twilio's signature is computed over it.
 * Prints the transcript with per-turn latencies from the database when the call has ended.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { TWILIO_FORMAT } from '../src/audio/format.js';
import { writeWav } from '../src/audio/wav.js';
import { DEMO_NUMBER, ensureDemoBot, ownBot, readSecretFile } from './lib/demo.js';
import { speak, wavFileToFormat } from './lib/speech-audio.js';
import { TwilioCaller } from './lib/twilio-caller.js';

const { values } = parseArgs({
  options: {
    // The server's own settings, read the same way: `PORT=3471 npm start` is called with `PORT=3471 npm run call`.
    server: { type: 'string', default: process.env.PARLEY_SERVER ?? `http://127.0.0.1:${process.env.PORT ?? 3000}` },
    'public-url': { type: 'string', default: process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT ?? 3000}` },
    'data-dir': { type: 'string', default: process.env.DATA_DIR ?? './data' },
    'auth-token': { type: 'string' },
    'admin-token': { type: 'string' },
    'api-key': { type: 'string' },
    to: { type: 'string' },
    from: { type: 'string', default: '+15557654321' },
    text: { type: 'string', multiple: true },
    wav: { type: 'string', multiple: true },
    out: { type: 'string' },
    web: { type: 'boolean', default: false },
    language: { type: 'string', default: 'en' },
    'reply-timeout': { type: 'string', default: '20000' },
  },
});

async function main(): Promise<void> {
  const dataDir = values['data-dir']!;
  const server = values.server!.replace(/\/+$/, '');
  const language = values.language === 'ru' ? 'ru' : 'en';
  const adminToken = values['admin-token'] ?? process.env.ADMIN_TOKEN ?? readSecretFile(dataDir, 'admin-token');

  const own = ownBot(values.to, values['api-key'] ?? process.env.PARLEY_API_KEY);
  let apiKey: string;
  let to: string;
  let botId: string | undefined;
  if (own) ({ apiKey, to } = own);
  else {
    if (!adminToken) {
      throw new Error('The demo bot is made with the admin token: set ADMIN_TOKEN or DATA_DIR as for the server (or --admin-token); or call your own bot with --to NUMBER --api-key KEY');
    }
    const demo = await ensureDemoBot(server, dataDir, adminToken);
    apiKey = demo.apiKey;
    to = DEMO_NUMBER;
    botId = demo.botId;
  }

  const utterances: Array<{ label: string; audio: () => Promise<Uint8Array> }> = [];
  for (const w of values.wav ?? []) utterances.push({ label: w, audio: () => wavFileToFormat(w, TWILIO_FORMAT) });
  for (const t of values.text ?? []) utterances.push({ label: t, audio: () => speak(t, TWILIO_FORMAT, language) });
  const replyTimeout = Number(values['reply-timeout']);

  if (values.web) {
    const { runWebCall } = await import('./call-web.js');
    // Your own bot (--to its number, --api-key your key): found through the API, as a web call needs its id.
    if (!botId) {
      const res = await fetch(`${server}/v1/bots`, { headers: { authorization: `Bearer ${apiKey}` } });
      const bots = res.ok ? ((await res.json()) as { data: Array<{ id: string; phone_number: string | null }> }).data : [];
      botId = bots.find((b) => b.phone_number === to)?.id;
      if (!botId) throw new Error(`no bot of this API key has the number ${to} (GET /v1/bots: ${res.status})`);
    }
    await runWebCall({ server, apiKey, ...(botId ? { botId } : {}), text: values.text ?? [], ...(values.wav?.[0] ? { wav: values.wav[0] } : {}), ...(values.out ? { outWav: values.out } : {}), realtime: true });
    return;
  }

  const authToken = values['auth-token'] ?? process.env.TWILIO_AUTH_TOKEN ?? readSecretFile(dataDir, 'twilio-auth-token');
  if (!authToken) throw new Error('No Twilio auth token: pass --auth-token, set TWILIO_AUTH_TOKEN, or run next to the server\'s DATA_DIR');

  const caller = await TwilioCaller.dial({ server, publicOrigin: values['public-url']!.replace(/\/+$/, ''), authToken, from: values.from!, to });
  console.log(`call ${caller.callId} to ${to}`);
  await caller.waitForBotAudio(replyTimeout);
  await caller.waitForBotQuiet(700, replyTimeout);
  for (const u of utterances) {
    console.log(`caller says: ${u.label}`);
    await caller.say(await u.audio());
    const answered = await caller.waitForBotAudio(replyTimeout);
    if (!answered) console.log('  (no answer from the bot)');
    await caller.waitForBotQuiet(900, replyTimeout);
  }
  await caller.hangup();

  if (values.out) {
    const all = Buffer.concat(caller.botAudio);
    await writeFile(values.out, writeWav(all, { encoding: 'mulaw', sampleRate: 8000 }));
    console.log(`bot audio written to ${values.out} (${(all.length / 8000).toFixed(1)} s)`);
  }
  await printTranscript(server, apiKey, caller.callId);
}

export async function printTranscript(server: string, apiKey: string, callId: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${server}/v1/calls/${callId}`, { headers: { authorization: `Bearer ${apiKey}` } });
    const call = (await res.json()) as { status: string; duration_sec: number | null; transcript: Array<{ role: string; text: string; latency?: Record<string, number | null>; interrupted?: boolean }> };
    if (res.status === 200 && call.status !== 'in_progress' && call.status !== 'ringing') {
      console.log(`\ntranscript (${call.status}, ${call.duration_sec ?? '?'} s):`);
      for (const turn of call.transcript) {
        const l = turn.latency;
        const lat = l ? `  [voice-to-voice ${l.totalMs ?? '–'} ms; LLM first token ${l.llmFirstTokenMs ?? '–'} ms; TTS first audio ${l.ttsFirstAudioMs ?? '–'} ms]` : '';
        console.log(`  ${turn.role.padEnd(6)} ${turn.text}${turn.interrupted ? ' (interrupted)' : ''}${lat}`);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log('the call did not finish recording in time');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
