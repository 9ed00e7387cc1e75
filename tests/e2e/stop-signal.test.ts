/**
 * A deploy as the operator's supervisor does it: the real server process (src/main.ts, as `npm start` runs it, on
 * the test's database: PostgreSQL with DATABASE_URL set, else embedded PGlite in its DATA_DIR) gets SIGTERM while a
 * Twilio call and a web call talk. /readyz turns 503, both calls hear the goodbye and end `server_shutdown` with
 * their transcripts stored and their `call.ended` events in the outbox (delivered by whichever server runs the
 * workers next), a call that still arrives meanwhile hears the same goodbye, and the process exits 0. An operator's
 * second signal, and a stop that outlives SHUTDOWN_TIMEOUT_MS (a PostgreSQL that stopped answering), exit anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionBot, startServerChild, type ServerChild } from '../../scripts/bench/lib/server-child.js';
import { runWebCall, type WebCallResult } from '../../scripts/call-web.js';
import { DEMO_BOT_CONFIG } from '../../scripts/lib/demo.js';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { openDatabase, type Database } from '../../src/db/connect.js';
import { transcriptOf, type TranscriptEntry } from '../../src/db/calls.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { SHUTDOWN_NOTICE, SHUTDOWN_REFUSAL } from '../../src/telephony/twilio/voice-routes.js';
import { FakeCartesia } from '../fakes/fakeCartesia.js';
import { FakeDeepgram, mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { FakeOpenAI } from '../fakes/fakeOpenAI.js';
import { createTestDb, usingRealPostgres, type TestDatabase } from '../helpers/db.js';
import { hostAndPort, startStallingProxy } from '../helpers/stalling-proxy.js';
import { until } from '../helpers/until.js';

const BOT_NUMBER = '+15550107777';
const GOODBYE = "I'm sorry, I have to end the call now.";

describe('the server process on SIGTERM and SIGINT', () => {
  let deepgram: FakeDeepgram;
  let cartesia: FakeCartesia;
  let openai: FakeOpenAI;
  const databases: TestDatabase[] = [];
  const servers: ServerChild[] = [];

  beforeAll(async () => {
    deepgram = await FakeDeepgram.start({ utterances: ['what time do you close today'], finalLatencyMs: 50 });
    cartesia = await FakeCartesia.start({ firstAudioLatencyMs: 30, chunkIntervalMs: 0 });
    // Slow answers: the web call's typed turns are still going when the signal comes.
    openai = await FakeOpenAI.start({ firstTokenLatencyMs: 300 });
    openai.reply = { text: 'We close at six pm today.' };
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    for (const d of databases) await d.close();
    await Promise.all([deepgram?.close(), cartesia?.close(), openai?.close()]);
  });

  /** The server as `npm start` runs it; on PostgreSQL a fresh test database (or `databaseUrl`), else PGlite in its DATA_DIR. */
  async function start(env: Record<string, string>, databaseUrl?: string, processes = 1): Promise<{ server: ServerChild; databaseUrl: string | undefined }> {
    let url = databaseUrl;
    if (!url && usingRealPostgres()) {
      const db = await createTestDb();
      databases.push(db);
      url = db.url!;
    }
    const server = await startServerChild({
      deepgramUrl: deepgram.url, cartesiaUrl: cartesia.url, openaiBaseUrl: openai.baseUrl, captureStdout: true, processes,
      ...(url ? { databaseUrl: url } : {}),
      extraEnv: { LOG_LEVEL: 'info', WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', ...env },
    });
    servers.push(server);
    return { server, databaseUrl: url };
  }

  /** The database the stopped server wrote, opened by the test (PGlite: its DATA_DIR, free once the process is gone). */
  async function openWritten(server: ServerChild, databaseUrl: string | undefined): Promise<Database> {
    return databaseUrl ? openDatabase({ databaseUrl, dataDir: 'memory://', poolMax: 2 }) : openDatabase({ dataDir: server.dataDir });
  }

  const dial = (server: ServerChild, from: string): Promise<TwilioCaller> =>
    TwilioCaller.dial({ server: server.url, publicOrigin: server.publicUrl, authToken: server.twilioAuthToken, from, to: BOT_NUMBER });

  /** SIGTERM to the server (with PROCESSES > 1 its primary, which forwards it) while a Twilio call and a web call talk. */
  async function stopMidCall(processes: number): Promise<void> {
    const { server, databaseUrl } = await start({ SHUTDOWN_TIMEOUT_MS: '30000' }, undefined, processes);
    const asked = openai.requests.length; // the fakes serve every test of the file
    const { botId, apiKey } = await provisionBot(server, BOT_NUMBER, DEMO_BOT_CONFIG);
    const hook = await fetch(`${server.url}/v1/company/webhook`, {
      method: 'PUT', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/parley-events' }), // nobody listens: the events wait in the outbox
    });
    expect(hook.status).toBe(200);

    // A Twilio call that has had a turn, and a web call in the middle of its turns.
    const phone = await dial(server, '+15557654321');
    expect(await phone.waitForBotAudio(10_000)).toBe(true);
    await phone.waitForBotQuiet(300);
    await phone.say(mulawToneFrame(1200, 8000));
    await until(() => openai.requests.length >= asked + 1);
    let web: WebCallResult | null = null;
    const webCall = runWebCall({
      server: server.url, apiKey, botId, typed: true, realtime: false, print: () => {},
      text: Array.from({ length: 40 }, (_, i) => `question number ${i + 1}`),
    }).then((r) => (web = r));
    await until(() => openai.requests.length >= asked + 3);

    server.signal('SIGTERM');
    const ready = await until(async () => {
      const res = await fetch(`${server.url}/readyz`);
      return res.status === 503 ? res : null;
    });
    expect(await ready.json()).toEqual({ status: 'shutting down' });
    // A call Twilio still sends here: with another process (or instance) to take its stream it is handed one, and
    // hears the goodbye where it lands; alone, the server says the line is busy and ends it at once.
    const late = processes > 1 ? await dial(server, '+15557654322') : null;
    if (late) expect(await late.waitForBotAudio(10_000)).toBe(true);
    const alone = { CallSid: 'CAalone', From: '+15557654322', To: BOT_NUMBER, Direction: 'inbound' };
    if (!late) {
      const busy = await fetch(`${server.url}/twilio/voice`, {
        method: 'POST', body: new URLSearchParams(alone).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(server.twilioAuthToken, `${server.publicUrl}/twilio/voice`, alone) },
      });
      const twiml = await busy.text();
      expect(twiml).toContain(SHUTDOWN_NOTICE.en);
      expect(twiml).not.toContain('<Stream');
    }

    expect(await server.exited).toBe(0);
    await webCall;
    expect((await phone.closed).code).toBe(1000);
    if (late) expect((await late.closed).code).toBe(1000);
    expect(web!.endedReason).toBe('server_shutdown');

    const db = await openWritten(server, databaseUrl);
    try {
      if (!late) {
        const [refused] = await db.sql<{ id: string; status: string; end_reason: string }[]>`select id, status, end_reason from calls where twilio_call_sid = ${alone.CallSid}`;
        expect(refused).toMatchObject({ status: 'failed', end_reason: SHUTDOWN_REFUSAL });
        expect(await db.sql`select status from webhook_events where type = 'call.ended' and body like ${`%${refused!.id}%`}`).toEqual([{ status: 'pending' }]);
      }
      for (const callId of [phone.callId, web!.callId, ...(late ? [late.callId] : [])]) {
        const [row] = await db.sql<{ status: string; end_reason: string; ended: boolean; transcript: TranscriptEntry[] }[]>`
          select status, end_reason, ended_at is not null as ended, ${transcriptOf(db.sql)} as transcript from calls c where id = ${callId}`;
        expect(row).toMatchObject({ status: 'completed', end_reason: 'server_shutdown', ended: true });
        expect(row!.transcript.at(-1)).toMatchObject({ role: 'bot', text: expect.stringContaining(GOODBYE) });
        const events = await db.sql`select status from webhook_events where type = 'call.ended' and body like ${`%${callId}%`}`;
        expect(events).toEqual([{ status: 'pending' }]);
      }
      for (const callId of [phone.callId, web!.callId]) {
        const [row] = await db.sql<{ transcript: TranscriptEntry[] }[]>`select ${transcriptOf(db.sql)} as transcript from calls c where id = ${callId}`;
        expect(row!.transcript.some((t) => t.role === 'caller')).toBe(true);
      }
    } finally {
      await db.close();
    }
  }

  it('SIGTERM mid-call: both calls say goodbye and are stored, a late call hears the line is busy, and the process exits 0', () => stopMidCall(1), 120_000);
  if (usingRealPostgres()) {
    it('the same with PROCESSES=2: the primary forwards the signal, every process says goodbye to its calls', () => stopMidCall(2), 120_000);
  }

  it('a second signal from the operator exits at once, without waiting for the goodbyes', async () => {
    // The goodbye never plays (Cartesia leaves it unanswered): the first SIGTERM alone waits 5 s for it to start.
    const { server } = await start({ SHUTDOWN_TIMEOUT_MS: '120000' });
    await provisionBot(server, BOT_NUMBER, DEMO_BOT_CONFIG);
    const phone = await dial(server, '+15557654323');
    expect(await phone.waitForBotAudio(10_000)).toBe(true);
    await phone.waitForBotQuiet(300);
    cartesia.misbehave = (transcript) => (transcript.startsWith(GOODBYE.slice(0, 10)) ? 'silent' : null);
    try {
      server.signal('SIGTERM');
      await until(async () => (await fetch(`${server.url}/readyz`)).status === 503);
      // Repeats within a second are the same stop (a terminal's Ctrl-C reaches the process more than once).
      server.signal('SIGINT');
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      server.signal('SIGINT');
      expect(await server.exited).toBe(1);
      expect(server.stdout()).toContain('second signal: exiting now');
    } finally {
      cartesia.misbehave = null;
    }
  }, 120_000);

  if (usingRealPostgres()) {
    it('a stop that outlives SHUTDOWN_TIMEOUT_MS (PostgreSQL stopped answering) still exits, saying so', async () => {
      const db = await createTestDb();
      databases.push(db);
      const proxy = await startStallingProxy(hostAndPort(db.url!));
      try {
        const { server } = await start({ SHUTDOWN_TIMEOUT_MS: '1000' }, proxy.urlFor(db.url!));
        proxy.stall();
        server.signal('SIGTERM');
        expect(await server.exited).toBe(1);
        expect(server.stdout()).toContain('shutdown did not finish in time');
      } finally {
        proxy.resume();
        await proxy.close();
      }
    }, 120_000);
  }
});
