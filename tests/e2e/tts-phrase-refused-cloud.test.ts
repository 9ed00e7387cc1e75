/**
 * A voice that fails on one phrase of an answer, every time (Cartesia answers an error frame for that phrase's
 * context), over a real Twilio call against the cloud fakes. The phrase is left unsaid (stored as such), the rest
 * of the answer is said, and the call goes on: no reconnect loop (each reconnect said the phrase playing before it
 * again, its replayed audio counted as a recovery, and the same phrase failed again — 1,704 sockets in 10 s).
 * An account refusal on a phrase (401/402: key revoked, credits spent) is not the phrase's: the voice is down, and
 * the call ends at once (provider_failure: tts) instead of skipping every phrase until two turns said nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { LIVE_CALL_STATUSES } from '../../src/db/calls.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { until } from '../helpers/until.js';
import { storedTranscript, untilTranscriptHas } from '../helpers/transcript.js';

const ANSWER = 'We close at six pm today. On Sundays we open at ten and close at four in the afternoon. Anything else I can help with?';
const REFUSED = 'On Sundays we open at ten and close at four in the afternoon.';
const NEXT_ANSWER = 'We are closed on public holidays.';

describe('a phrase the voice fails on every time', () => {
  let s: CloudStack;
  beforeAll(async () => {
    s = await startCloudStack({
      deepgram: { utterances: ['what time do you close today', 'and on holidays'], finalLatencyMs: 50 },
      openai: { firstTokenLatencyMs: 50, tokenIntervalMs: 5 },
      cartesia: { firstAudioLatencyMs: 30, chunkIntervalMs: 5, msPerWord: 250 },
    });
  });
  afterAll(async () => s?.close());

  /** A call whose answer's second phrase gets Cartesia error `status` every time: what the caller heard, and the sockets it took. */
  async function callWithRefusedPhrase(status: number) {
    s.openai.reply = { text: ANSWER };
    s.cartesia.misbehave = (transcript) => (transcript.startsWith('On Sundays') ? { error: status } : null);
    const socketsBefore = s.cartesia.connections.length;
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks for calling');
    await caller.waitForBotQuiet(300);
    await caller.say(mulawToneFrame(1200, 8000));
    // The answer's turn that plays out is stored once heard: it ends on the answer's last phrase.
    await until(async () => (await storedTranscript(s.t.db.sql, caller.callId)).some((e) => e.role === 'bot' && e.text.endsWith('Anything else I can help with?')) || null);
    const sockets = s.cartesia.connections.length - socketsBefore;
    const clears = caller.clears;

    // The call is still open, and the caller's next turn is answered.
    s.openai.reply = { text: NEXT_ANSWER };
    await caller.waitForBotQuiet(300);
    await caller.say(mulawToneFrame(1200, 8000));
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', NEXT_ANSWER);
    await caller.hangup();
    const call = await until(async () => {
      const [row] = await s.t.db.sql`select status, end_reason from calls where id = ${caller.callId}`;
      return row && !(LIVE_CALL_STATUSES as readonly string[]).includes(row.status as string) ? row : null;
    });
    const transcript = (await storedTranscript(s.t.db.sql, caller.callId)) as Array<{ role: string; text: string; unsaid?: string[] }>;
    return { sockets, clears, call, transcript };
  }

  it('a 400 for the phrase: skipped on the same socket, the rest said without a break, the call goes on', async () => {
    const { sockets, clears, call, transcript } = await callWithRefusedPhrase(400);
    // A refusal of one request does not reopen a healthy socket, nor cut what is playing.
    expect(sockets).toBe(1);
    expect(clears).toBe(0);
    const bot = transcript.filter((e) => e.role === 'bot');
    expect(bot.map((e) => e.text)).toEqual(['Hello, thanks for calling Alpha Salon.', 'We close at six pm today. Anything else I can help with?', NEXT_ANSWER]);
    expect(bot[1]!.unsaid).toEqual([REFUSED]);
    expect(transcript.filter((e) => e.role === 'caller').map((e) => e.text)).toEqual(['what time do you close today', 'and on holidays']);
    expect(call).toMatchObject({ status: 'completed' });
    expect(String(call.end_reason)).toMatch(/^caller_hangup/);
  });

  /** A call whose answer's second phrase gets Cartesia error `status`: how it ended, what was stored, the sockets it took. */
  async function callWithAccountRefused(status: number) {
    s.openai.reply = { text: ANSWER };
    s.cartesia.misbehave = (transcript) => (transcript.startsWith('On Sundays') ? { error: status } : null);
    const socketsBefore = s.cartesia.connections.length;
    const countedBefore = await accountFailures();
    const caller = await TwilioCaller.dial({ server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken, from: '+15557654321', to: s.botNumber });
    await untilTranscriptHas(s.t.db.sql, caller.callId, 'bot', 'Hello, thanks for calling');
    await caller.waitForBotQuiet(300);
    await caller.say(mulawToneFrame(1200, 8000));
    // Either the call ends, or (a phrase skipped as refused) the answer's last phrase is said and stored.
    const call = await until(async () => {
      const [row] = await s.t.db.sql`select status, end_reason from calls where id = ${caller.callId}`;
      if (row && !(LIVE_CALL_STATUSES as readonly string[]).includes(row.status as string)) return row;
      const said = (await storedTranscript(s.t.db.sql, caller.callId)).some((e) => e.role === 'bot' && e.text.endsWith('Anything else I can help with?'));
      return said ? row : null;
    });
    const sockets = s.cartesia.connections.length - socketsBefore;
    const transcript = (await storedTranscript(s.t.db.sql, caller.callId)) as Array<{ role: string; text: string; unsaid?: string[] }>;
    await caller.hangup();
    return { sockets, call, transcript, counted: (await accountFailures()) - countedBefore };
  }

  const accountFailures = async (): Promise<number> =>
    (await s.metrics.providerAccountFailures.get()).values.find((v) => v.labels.stage === 'tts' && v.labels.provider === 'cartesia')?.value ?? 0;

  for (const status of [401, 402]) {
    it(`a ${status} for a phrase (the account refused): not skipped, the call ends at once as provider_failure: tts, counted`, async () => {
      const { sockets, call, transcript, counted } = await callWithAccountRefused(status);
      expect(call).toMatchObject({ status: 'failed', end_reason: 'provider_failure: tts' });
      const bot = transcript.filter((e) => e.role === 'bot');
      // Nothing after the refused phrase was said, and it is not stored as a phrase the voice refused.
      expect(bot.some((e) => e.text.includes('Anything else'))).toBe(false);
      expect(bot.some((e) => e.unsaid?.includes(REFUSED))).toBe(false);
      // No reconnect: the key, credits or plan will not mend by retrying.
      expect(sockets).toBe(1);
      expect(counted).toBe(1);
    });
  }

  it('a 500 for the phrase every time: given up after two failures, a bounded number of sockets, the rest said', async () => {
    const { sockets, call, transcript } = await callWithRefusedPhrase(500);
    expect(sockets).toBeLessThanOrEqual(3);
    const bot = transcript.filter((e) => e.role === 'bot');
    // What the caller heard is stored once: no turn says the refused phrase, one records it unsaid.
    expect(bot.some((e) => e.text.includes('On Sundays'))).toBe(false);
    expect(bot.filter((e) => e.unsaid?.includes(REFUSED))).toHaveLength(1);
    expect(bot.map((e) => e.text).join(' ')).toContain('We close at six pm today.');
    expect(bot.at(-1)!.text).toBe(NEXT_ANSWER);
    expect(call).toMatchObject({ status: 'completed' });
    expect(String(call.end_reason)).toMatch(/^caller_hangup/);
  });
});
