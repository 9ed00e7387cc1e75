/**
 * Both call sockets (/twilio/media and /web-call/socket) under bad input: every malformed frame kind is counted
 * in parley_malformed_frames_total and dropped while the call goes on (invalid UTF-8, oversized frames up to
 * MAX_SOCKET_PAYLOAD, not JSON, bad base64 audio, outbound-track media, unknown marks…); only a frame larger than
 * MAX_SOCKET_PAYLOAD closes the socket (1009, ws cannot skip it unread). A start token opens exactly one session,
 * even when two sockets present it at the same moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createMetrics } from '../../src/metrics.js';
import { transcriptOf, type CallWithTranscript } from '../../src/db/calls.js';
import { createLogger } from '../../src/log.js';
import { CallRunner } from '../../src/telephony/call-runner.js';
import { MAX_SOCKET_PAYLOAD } from '../../src/telephony/socket-frames.js';
import { twilioMediaRoute } from '../../src/telephony/twilio/media-route.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { MEDIA_PATH, twilioVoiceRoutes } from '../../src/telephony/twilio/voice-routes.js';
import { botBody, createTestApp, type TestApp } from '../helpers/app.js';
import { delay, ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

const AUTH = 'twilio-auth-hardening';
const ORIGIN = 'https://voice.example.com';
const SECRET = 'call-token-secret-hardening';
const LIMITS = { silenceRepromptSec: 60, silenceHangupSec: 120 };

/** Polls until `test` holds (no time limit of its own: the test's timeout is the bound). */
async function until(test: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await test())) await delay(10);
}

const oneFrame = Buffer.alloc(160, 0xff).toString('base64');

describe('Twilio media socket', () => {
  let t: TestApp;
  let wsBase: string;
  const metrics = createMetrics();
  const stts: ScriptedStt[] = [];
  let n = 0;
  /** When set, the runner cannot build the call's providers (a missing key, a bad config): it fails before the session. */
  let providersFail = false;

  beforeAll(async () => {
    t = await createTestApp({
      env: { PUBLIC_URL: ORIGIN },
      publicRoutes: (db) => {
        const runner = new CallRunner({
          sql: db.sql, log: createLogger('silent'), metrics,
          providersFor: () => {
            if (providersFail) throw new Error('no providers for this bot');
            const stt = new ScriptedStt();
            stts.push(stt);
            return { stt, llm: new ScriptedLlm(() => 'Sure.', { firstTokenMs: 5 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) };
          },
        });
        return [
          twilioVoiceRoutes({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET }),
          twilioMediaRoute({ sql: db.sql, authToken: AUTH, publicOrigin: ORIGIN, callTokenSecret: SECRET, runner, metrics, twilioControl: null }),
        ];
      },
    });
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    wsBase = address.replace(/^http/, 'ws');
    const company = await t.createCompany();
    const res = await t.app.inject({
      method: 'POST', url: '/v1/bots', headers: t.as(company.apiKey),
      payload: botBody({ phone_number: '+15557771234', config: { greeting: 'Hello there.', limits: LIMITS } }),
    });
    expect(res.statusCode).toBe(201);
  }, 120_000);
  afterAll(async () => t.close());

  /** The voice webhook, as Twilio calls it: returns the call id, CallSid and the stream's <Parameter>s. */
  async function dial() {
    const callSid = `CAhard${++n}`;
    const form = { CallSid: callSid, From: '+15551110000', To: '+15557771234', Direction: 'inbound' };
    const res = await t.app.inject({
      method: 'POST', url: '/twilio/voice', payload: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature(AUTH, `${ORIGIN}/twilio/voice`, form) },
    });
    expect(res.statusCode).toBe(200);
    const params: Record<string, string> = {};
    for (const m of res.body.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) params[m[1]!] = m[2]!;
    return { callSid, callId: params.callId!, params };
  }

  /** A media socket with a signed handshake; records the events it receives and how it closed. */
  async function openStream() {
    const wsUrl = `${ORIGIN.replace(/^http/, 'ws')}${MEDIA_PATH}`;
    const ws = new WebSocket(`${wsBase}${MEDIA_PATH}`, { headers: { 'x-twilio-signature': computeSignature(AUTH, wsUrl, {}) } });
    const s = { ws, events: [] as Array<{ event: string; mark?: { name: string } }>, closeCode: null as number | null };
    ws.on('message', (data) => s.events.push(JSON.parse(data.toString())));
    ws.on('close', (code) => {
      s.closeCode = code;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return s;
  }

  const start = (ws: WebSocket, callSid: string, params: Record<string, string>, streamSid = 'MZhard') =>
    ws.send(JSON.stringify({
      event: 'start', sequenceNumber: '1', streamSid,
      start: { accountSid: 'AC1', streamSid, callSid, tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: params },
    }));

  const malformed = async () => (await metrics.malformedFrames.get()).values.find((v) => v.labels.transport === 'twilio')?.value ?? 0;
  const callRow = async (id: string) => (await t.db.sql<CallWithTranscript[]>`select c.*, ${transcriptOf(t.db.sql)} as transcript from calls c where c.id = ${id}`)[0]!;

  it('counts each malformed frame kind and keeps the call up', async () => {
    const { callSid, callId, params } = await dial();
    const s = await openStream();
    s.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    start(s.ws, callSid, params);
    await until(() => s.events.some((e) => e.event === 'mark'));
    const stt = stts.at(-1)!;
    const before = await malformed();
    const media = (payload: string, track = 'inbound', streamSid = 'MZhard') => JSON.stringify({ event: 'media', streamSid, media: { track, chunk: '1', timestamp: '0', payload } });

    const bad: Array<[string, string | Buffer, boolean]> = [
      ['binary frame', Buffer.alloc(160), true],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x65, 0xff, 0xfe, 0x22, 0x7d]), false],
      ['1.5 MiB text frame', media('A'.repeat(1.5 * 1024 * 1024)), false],
      ['not JSON', 'hello', false],
      ['unknown event', '{"event":"bogus"}', false],
      ['bad base64 (fast path)', media('@@@@not base64!!'), false],
      ['bad base64 (full parser)', JSON.stringify({ streamSid: 'MZhard', event: 'media', media: { track: 'inbound', payload: 'AAA' } }), false],
      ['base64 with a hole', media(`${oneFrame.slice(0, 100)}*${oneFrame.slice(101)}`), false],
      ['outbound-track media', media(oneFrame, 'outbound'), false],
      ['unknown mark', JSON.stringify({ event: 'mark', streamSid: 'MZhard', mark: { name: 'never-sent' } }), false],
      ['second start', JSON.stringify({ event: 'start', start: { streamSid: 'MZx', callSid } }), false],
      // Another stream's messages are never this call's audio, keypresses, mark echoes or end.
      ['media of another stream (fast path)', media(oneFrame, 'inbound', 'MZother'), false],
      ['media of another stream (full parser)', JSON.stringify({ event: 'media', streamSid: 'MZother', media: { track: 'inbound', payload: oneFrame } }, null, 1), false],
      ['media naming no stream', JSON.stringify({ event: 'media', media: { track: 'inbound', payload: oneFrame } }), false],
      ['dtmf of another stream', JSON.stringify({ event: 'dtmf', streamSid: 'MZother', dtmf: { track: 'inbound_track', digit: '5' } }), false],
      ['stop of another stream', JSON.stringify({ event: 'stop', streamSid: 'MZother', stop: { callSid } }), false],
    ];
    // A mark echo in another stream's name: the server's own mark, so only the stream tells it apart.
    const sentMark = s.events.find((e) => e.event === 'mark')!.mark!.name;
    bad.push(['mark of another stream', JSON.stringify({ event: 'mark', streamSid: 'MZother', mark: { name: sentMark } }), false]);
    for (const [, frame, binary] of bad) s.ws.send(frame, { binary });
    for (let i = 0; i < 3; i++) s.ws.send(media(oneFrame));
    // Frames are handled in order: once the good audio has reached the recognizer, every bad frame was seen.
    await until(() => stt.audioFrames >= 3);
    expect(stt.audioFrames).toBe(3);
    expect((await malformed()) - before).toBe(bad.length);
    expect(s.closeCode).toBeNull();

    // Marks the server did send are still passed on (the other stream's echo above did not use this one up).
    const sent = sentMark;
    s.ws.send(JSON.stringify({ event: 'mark', streamSid: 'MZhard', mark: { name: sent } }));
    s.ws.send(JSON.stringify({ event: 'mark', streamSid: 'MZhard', mark: { name: sent } })); // echoed twice: the second is unknown
    s.ws.send(media(oneFrame));
    await until(() => stt.audioFrames >= 4);
    expect((await malformed()) - before).toBe(bad.length + 1);

    s.ws.send(JSON.stringify({ event: 'stop', streamSid: 'MZhard', stop: { callSid } }));
    await until(async () => (await callRow(callId)).ended_at !== null);
    expect((await callRow(callId)).status).toBe('completed');
  });

  it('counts the messages Twilio skipped (sequenceNumber gaps), fast path and full parser alike, and stores them once at the call\'s end', async () => {
    const { callSid, callId, params } = await dial();
    const s = await openStream();
    start(s.ws, callSid, params);
    await until(() => s.events.some((e) => e.event === 'mark'));
    const counter = async () => (await metrics.mediaMessagesLost.get()).values[0]?.value ?? 0;
    const lostBefore = await counter();
    const media = (seq: number) => JSON.stringify({ event: 'media', sequenceNumber: String(seq), streamSid: 'MZhard', media: { track: 'inbound', chunk: String(seq), timestamp: '0', payload: oneFrame } });
    // 2, 3, then 7 (4–6 lost) on the fast path; a keypress at 8 and a spaced-out media frame at 10 (9 lost) go the full way.
    for (const seq of [2, 3, 7]) s.ws.send(media(seq));
    s.ws.send(JSON.stringify({ event: 'dtmf', sequenceNumber: '8', streamSid: 'MZhard', dtmf: { track: 'inbound_track', digit: '1' } }));
    s.ws.send(media(10).replace('{"event"', '{ "event"'));
    s.ws.send(media(10)); // a repeat: nothing more lost
    s.ws.send(JSON.stringify({ event: 'stop', sequenceNumber: '11', streamSid: 'MZhard', stop: { accountSid: 'AC1', callSid } }));
    await until(async () => (await t.db.sql`select 1 from calls where id = ${callId} and media_sequence_gaps is not null`).length === 1);
    expect(await t.db.sql`select media_sequence_gaps, media_messages_lost from calls where id = ${callId}`).toEqual([{ media_sequence_gaps: 2, media_messages_lost: 4 }]);
    expect((await counter()) - lostBefore).toBe(4);
  });

  it(`closes the socket with 1009 on a frame over ${MAX_SOCKET_PAYLOAD} bytes (ws cannot skip it), which ends the call: a protocol error, not the caller's hang-up`, async () => {
    const { callSid, callId, params } = await dial();
    const s = await openStream();
    start(s.ws, callSid, params);
    await until(() => s.events.some((e) => e.event === 'media'));
    s.ws.send('x'.repeat(MAX_SOCKET_PAYLOAD + 1));
    await until(() => s.closeCode !== null);
    expect(s.closeCode).toBe(1009);
    await until(async () => (await callRow(callId)).ended_at !== null);
    expect(await callRow(callId)).toMatchObject({ status: 'failed', end_reason: expect.stringMatching(/^protocol_error: /) });
  });

  it('ends the call at once, server_error, when the runner fails after start was accepted (not left for the sweep)', async () => {
    const { callSid, callId, params } = await dial();
    const s = await openStream();
    providersFail = true;
    try {
      start(s.ws, callSid, params);
      await until(() => s.closeCode !== null);
    } finally {
      providersFail = false;
    }
    expect(s.closeCode).toBe(1011);
    await until(async () => (await callRow(callId)).ended_at !== null);
    expect(await callRow(callId)).toMatchObject({ status: 'failed', end_reason: expect.stringMatching(/^server_error: /) });
  });

  it('refuses the stream of a call whose bot was disabled after the voice webhook, and ends the call bot_disabled (no session)', async () => {
    const { callSid, callId, params } = await dial();
    const [call] = await t.db.sql<{ bot_id: string }[]>`select bot_id from calls where id = ${callId}`;
    await t.db.sql`update bots set is_active = false where id = ${call!.bot_id}`;
    const sessionsBefore = stts.length;
    try {
      const s = await openStream();
      start(s.ws, callSid, params);
      await until(() => s.closeCode !== null);
      expect(s.closeCode).toBe(1008);
      expect(stts.length).toBe(sessionsBefore); // no providers built: nothing talked for the disabled bot
      expect(await callRow(callId)).toMatchObject({ status: 'canceled', end_reason: expect.stringMatching(/^bot_disabled: /) });
    } finally {
      await t.db.sql`update bots set is_active = true where id = ${call!.bot_id}`;
    }
  });

  it('terminates a socket that sends binary, oversized or more than connected and start before start', async () => {
    const connected = JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const openings: Array<Array<string | Buffer>> = [[Buffer.alloc(160)], ['x'.repeat(20 * 1024)], [connected, connected, connected]];
    for (const frames of openings) {
      const s = await openStream();
      for (const frame of frames) s.ws.send(frame, { binary: Buffer.isBuffer(frame) });
      await until(() => s.closeCode !== null);
      // 1006: cut at once, no close handshake (not refused at the start deadline with 1008).
      expect(s.closeCode).toBe(1006);
    }
  });

  it('drops media racing the token check quietly: the call starts', async () => {
    const { callSid, params } = await dial();
    const s = await openStream();
    s.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    start(s.ws, callSid, params);
    const media = JSON.stringify({ event: 'media', streamSid: 'MZhard', media: { track: 'inbound', chunk: '1', timestamp: '0', payload: oneFrame } });
    for (let i = 0; i < 50; i++) s.ws.send(media);
    await until(() => s.events.some((e) => e.event === 'mark'));
    expect(s.closeCode).toBeNull();
    s.ws.send(JSON.stringify({ event: 'stop', streamSid: 'MZhard', stop: { callSid } }));
  });

  it('opens one session when two sockets present the same token at once', async () => {
    const { callSid, callId, params } = await dial();
    const sessionsBefore = stts.length;
    const [a, b] = await Promise.all([openStream(), openStream()]);
    start(a.ws, callSid, params, 'MZa');
    start(b.ws, callSid, params, 'MZb');
    await until(() => [a, b].some((s) => s.closeCode === 1008) && [a, b].some((s) => s.events.some((e) => e.event === 'mark')));
    const live = [a, b].find((s) => s.closeCode === null)!;
    const liveSid = live === a ? 'MZa' : 'MZb';
    const refused = [a, b].find((s) => s.closeCode === 1008)!;
    expect(refused.events.filter((e) => e.event === 'media')).toHaveLength(0);
    expect(stts.length - sessionsBefore).toBe(1);

    // A later socket with the same token is refused too.
    const late = await openStream();
    start(late.ws, callSid, params, 'MZc');
    await until(() => late.closeCode !== null);
    expect(late.closeCode).toBe(1008);

    // The greeting is stored once the caller has heard it: echo its marks, as Twilio does after playback.
    for (const e of live.events) if (e.event === 'mark') live.ws.send(JSON.stringify({ event: 'mark', streamSid: liveSid, mark: e.mark }));
    await until(async () => (await callRow(callId)).transcript.length > 0);
    live.ws.close(1000);
    await until(async () => (await callRow(callId)).ended_at !== null);
    const row = await callRow(callId);
    expect((row as CallWithTranscript & { media_started_at: Date | null }).media_started_at).not.toBeNull();
    expect(row.transcript.filter((turn) => turn.role === 'bot' && turn.text.includes('Hello there'))).toHaveLength(1);
    expect(stts.length - sessionsBefore).toBe(1);
  });
});

describe('web-call socket', () => {
  let app: WebCallApp;
  let stt: ScriptedStt;
  /** When set, the runner cannot build the call's providers: it fails after the page got `ready`. */
  let providersFail = false;

  beforeAll(async () => {
    app = await startWebCallApp(() => {
      if (providersFail) throw new Error('no providers for this bot');
      stt = new ScriptedStt();
      return { stt, llm: new ScriptedLlm((r) => `You said ${r.messages.at(-1)?.content ?? ''}`, { firstTokenMs: 5, tokenMs: 1 }), tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1 }) };
    });
  }, 120_000);
  afterAll(async () => app.close());

  const malformed = async () => (await app.metrics.malformedFrames.get()).values.find((v) => v.labels.transport === 'web')?.value ?? 0;

  async function connectReady() {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const client = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    client.send({ type: 'start', token: minted.token });
    await client.untilMessage((m) => m.type === 'ready');
    return { client, minted };
  }

  it('counts invalid UTF-8 and oversized frames and keeps the call up', async () => {
    const { client } = await connectReady();
    // The greeting has been played (its marks echoed): no clear can now race a mark echo.
    await client.untilMessage((m) => m.type === 'transcript' && m.role === 'bot' && m.final === true && String(m.text).includes('How can I help?'));
    const before = await malformed();
    client.ws.send(Buffer.from([0x7b, 0x22, 0x74, 0xc3, 0x28, 0x22, 0x7d]), { binary: false }); // invalid UTF-8 text
    client.ws.send(JSON.stringify({ type: 'text', text: 'y'.repeat(1.5 * 1024 * 1024) }));     // 1.5 MiB text
    client.ws.send(Buffer.alloc(1.5 * 1024 * 1024), { binary: true });                          // 1.5 MiB audio
    client.send({ type: 'mark-played', name: 'never-sent' });
    const framesBefore = stt.audioFrames;
    client.sendRaw(new Uint8Array(640));
    client.send({ type: 'dtmf', digit: '7' });
    await client.untilMessage((m) => m.type === 'transcript' && m.role === 'bot' && String(m.text).includes('[keypad] 7'));
    expect(stt.audioFrames - framesBefore).toBe(1);
    expect((await malformed()) - before).toBe(4);
    expect(client.closeCode).toBeNull();
    client.send({ type: 'end' });
    await client.closed;
  });

  it(`closes the socket with 1009 on a frame over ${MAX_SOCKET_PAYLOAD} bytes, which ends the call: a protocol error, not the caller's hang-up`, async () => {
    const { client, minted } = await connectReady();
    client.ws.send(Buffer.alloc(MAX_SOCKET_PAYLOAD + 2), { binary: true });
    expect(await client.closed).toBe(1009);
    await until(async () => (await app.db.sql`select ended_at from calls where id = ${minted.call_id}`)[0]!.ended_at !== null);
    const [row] = await app.db.sql`select status, end_reason from calls where id = ${minted.call_id}`;
    expect(row).toMatchObject({ status: 'failed', end_reason: expect.stringMatching(/^protocol_error: /) });
  });

  it('ends the call at once, server_error, when the runner fails after the page got ready (not left queued for the sweep)', async () => {
    providersFail = true;
    try {
      const { client, minted } = await connectReady();
      expect(await client.closed).toBe(1011);
      await until(async () => (await app.db.sql`select ended_at from calls where id = ${minted.call_id}`)[0]!.ended_at !== null);
      const [row] = await app.db.sql`select status, end_reason from calls where id = ${minted.call_id}`;
      expect(row).toMatchObject({ status: 'failed', end_reason: expect.stringMatching(/^server_error: /) });
    } finally {
      providersFail = false;
    }
  });

  it('refuses a fresh token for a call whose media session already started', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    await app.db.sql`update calls set media_started_at = now() where id = ${minted.call_id}`;
    const client = await WebCallClient.connect(app.wsUrl, PUBLIC_URL);
    client.send({ type: 'start', token: minted.token });
    expect(await client.closed).toBe(1008);
    expect(client.of('ready')).toHaveLength(0);
    expect(client.of('error')[0]).toMatchObject({ code: 'PARLEY_ERR_UNAUTHORIZED' });
  });

  it('lets one of two sockets racing with one token start the call, and only once', async () => {
    const { apiKey, botId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    const clients = await Promise.all([WebCallClient.connect(app.wsUrl, PUBLIC_URL), WebCallClient.connect(app.wsUrl, PUBLIC_URL)]);
    for (const c of clients) c.send({ type: 'start', token: minted.token });
    await until(() => clients.some((c) => c.closeCode === 1008) && clients.some((c) => c.of('ready').length > 0));
    const live = clients.find((c) => c.of('ready').length > 0)!;
    await live.untilMessage((m) => m.type === 'transcript' && m.role === 'bot' && m.final === true);
    live.send({ type: 'end' });
    await live.closed;
    const [row] = await app.db.sql<CallWithTranscript[]>`select c.*, ${transcriptOf(app.db.sql)} as transcript from calls c where c.id = ${minted.call_id}`;
    expect(row!.transcript.filter((turn) => turn.role === 'bot' && turn.text.includes('Hello'))).toHaveLength(1);
  });
});
