/**
 * A whole phone call through the real server: Twilio protocol in, Deepgram/OpenAI/Cartesia adapters against
 * their fake servers, transcript and latencies in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { until } from '../helpers/until.js';
import { storedTranscript, untilTranscriptHas } from '../helpers/transcript.js';

function tone(ms: number): Uint8Array {
  return mulawToneFrame(ms, 8000);
}

describe('a phone call over Twilio Media Streams with cloud providers', () => {
  let s: CloudStack;
  beforeAll(async () => {
    s = await startCloudStack({
      deepgram: { utterances: ['what time do you close today', 'wait actually stop'], finalLatencyMs: 50 },
      openai: { firstTokenLatencyMs: 50 },
      cartesia: { firstAudioLatencyMs: 30, chunkIntervalMs: 0 },
    });
  });
  afterAll(async () => s?.close());

  const dial = () => TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });

  it('greets at once, answers the caller, and stores the transcript with latencies', async () => {
    s.openai.reply = { text: 'We close at six pm today. Anything else I can help with?' };
    const caller = await dial();
    // The greeting plays without waiting for the caller or the LLM.
    expect(await caller.waitForBotAudio(5000)).toBe(true);
    expect(s.openai.requests).toHaveLength(0);
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks for calling');

    await caller.say(tone(1200));
    expect(await caller.waitForBotAudio(10_000)).toBe(true);
    // Hang up once the whole answer has played and its turn is stored (turns are written as they complete).
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'We close at six');
    await caller.hangup();

    const call = await until(async () => {
      const [row] = await s.t.db.sql`select * from calls where id = ${caller.callId}`;
      return row && row.status === 'completed' ? row : null;
    });
    const transcript = (await storedTranscript(s.t.db.sql, call.id as string)) as Array<{ role: string; text: string; latency?: Record<string, number | null> }>;
    expect(transcript[0]).toMatchObject({ role: 'bot', text: 'Hello, thanks for calling Alpha Salon.' });
    expect(transcript).toContainEqual(expect.objectContaining({ role: 'caller', text: 'what time do you close today' }));
    const answer = transcript.find((e) => e.role === 'bot' && e.text.startsWith('We close at six'));
    expect(answer).toBeDefined();
    expect(answer!.latency!.llmFirstTokenMs).toBeGreaterThanOrEqual(40);
    expect(answer!.latency!.ttsFirstAudioMs).toBeGreaterThanOrEqual(20);
    expect(call.ended_at).not.toBeNull();
    expect(call.duration_sec).toBeGreaterThanOrEqual(1);
    // The LLM saw the greeting and the caller's words.
    const body = s.openai.requests.at(-1)!.body as { messages: Array<{ role: string; content: string }> };
    expect(body.messages.some((m) => m.role === 'user' && m.content.includes('what time do you close'))).toBe(true);
    // Call ended → post-call analysis is queued.
    const jobs = await s.t.db.sql`select kind from jobs where dedupe_key = ${`analyze:${caller.callId}`}`;
    expect(jobs).toHaveLength(1);
  });

  it('survives malformed frames and refuses a stream without a valid token', async () => {
    s.openai.reply = { text: 'Sure.' };
    const caller = await dial();
    await caller.waitForBotAudio(5000);
    const ws = (caller as unknown as { ws: import('ws').WebSocket }).ws;
    ws.send('not json');
    ws.send('{"event":"media"}');
    ws.send(Buffer.from([1, 2, 3]));
    ws.send('{"event":"start","start":{"streamSid":"x","callSid":"y"}}');
    await caller.waitForBotQuiet(300);
    await caller.say(tone(1000));
    expect(await caller.waitForBotAudio(10_000)).toBe(true);
    await caller.hangup();
    const counted = await s.metrics.malformedFrames.get();
    expect(counted.values[0]?.value).toBe(4);
    // The call went on: the caller's turn was answered after the garbage.
    expect((await storedTranscript(s.t.db.sql, caller.callId)).filter((e) => e.role === 'caller')).toHaveLength(1);
  });

  it('keeps the words Deepgram recognised before its socket dropped mid-utterance', async () => {
    s.openai.reply = { text: 'Sure, I can help with that.' };
    const first = s.deepgram.connections.length;
    // The dropped connection heard the start of the sentence, the one that takes over the rest.
    s.deepgram.transcriptFor = (connection) => (connection === first ? 'I would like to book' : 'a haircut tomorrow at three');
    try {
      const caller = await dial();
      await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks');
      await caller.waitForBotQuiet(300);
      const said = caller.say(tone(4000));
      // Dropped while the caller speaks on, once its interim has the whole first half.
      const heardFirstHalf = (m: Record<string, unknown>) =>
        m.type === 'Results' && (m.channel as { alternatives: Array<{ transcript: string }> }).alternatives[0]!.transcript === 'I would like to book';
      await until(() => s.deepgram.connections[first]?.sent.some(heardFirstHalf), 5000);
      s.deepgram.connections[first]!.drop();
      await said;
      await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Sure, I can help');
      expect(s.deepgram.connections.length - first).toBe(2);
      const callerTurns = (await storedTranscript(s.t.db.sql, caller.callId)).filter((e) => e.role === 'caller').map((e) => e.text);
      expect(callerTurns).toEqual(['I would like to book a haircut tomorrow at three']);
      const body = s.openai.requests.at(-1)!.body as { messages: Array<{ role: string; content: string }> };
      expect(body.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['I would like to book a haircut tomorrow at three']);
      await caller.hangup();
    } finally {
      s.deepgram.transcriptFor = null;
    }
  });

  it('refuses a media handshake with a bad signature', async () => {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/twilio/media`, { headers: { 'x-twilio-signature': 'forged' } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(403);
  });
});
