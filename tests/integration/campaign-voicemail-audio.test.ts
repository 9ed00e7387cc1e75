/**
 * a campaign's voicemail spoken by the bot's own voice — <Play> of a token-guarded WAV rendered with
 * the bot's TTS, the WAV route's token checks, the cache (rendered once, rendered again on a miss), and the
 * fallback to <Say> when the TTS fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { signCallToken } from '../../src/telephony/call-token.js';
import { campaignHarness, ORIGIN, type Harness } from './campaign-harness.js';

describe('campaign voicemail in the bot\'s voice', () => {
  let h: Harness;
  let apiKey: string;
  let botId: string;
  let n = 0;
  beforeAll(async () => {
    h = await campaignHarness();
    ({ apiKey, botId } = await h.company());
    await h.api(apiKey, 'PUT', '/v1/campaign-policy', { max_calls_per_day: 5, max_calls_per_week: 10, blocked_prefixes: [] });
    h.clock.set('2026-04-16T15:00:00Z');
  });
  afterAll(async () => h.close());

  /** A leave_message campaign dialled to a new number and answered by a machine after the beep. */
  async function leaveMessage(): Promise<{ phone: string; callId: string; attemptId: string; body: string }> {
    const phone = `+1212555${String(7000 + ++n)}`;
    await h.campaign(apiKey, botId, { voicemail: 'leave_message', voicemail_message: 'Hi {{first_name}}, your visit is on {{day}}. Call us back.' },
      [{ phone, name: 'Ann Lee', time_zone: 'UTC', variables: { day: 'Friday' } }]);
    await h.scheduler().runOnce();
    const [call] = await h.t.db.sql<{ id: string; twilio_call_sid: string }[]>`select id, twilio_call_sid from calls where to_number = ${phone}`;
    const [attempt] = await h.t.db.sql<{ id: string }[]>`select id from campaign_attempts where call_id = ${call!.id}`;
    const res = await h.twilio(`/twilio/outbound/${call!.id}`, { CallSid: call!.twilio_call_sid, To: phone, Direction: 'outbound-api', AnsweredBy: 'machine_end_beep' });
    expect(res.statusCode).toBe(200);
    return { phone, callId: call!.id, attemptId: attempt!.id, body: res.body };
  }

  const playUrl = (body: string): string => {
    const m = /<Play>([^<]+)<\/Play><Hangup\/>/.exec(body);
    expect(m, body).not.toBeNull();
    return m![1]!;
  };
  const get = (url: string) => h.t.app.inject({ method: 'GET', url: url.startsWith(ORIGIN) ? url.slice(ORIGIN.length) : url });
  /** The characters the call's usage says were sent to the synthesizer. */
  const ttsChars = async (callId: string): Promise<number> =>
    Number((await h.t.db.sql`select coalesce(sum(quantity), 0)::text as n from call_usage where call_id = ${callId} and kind = 'tts_chars'`)[0]!.n);
  /** As sent to the synthesizer: sentence by sentence, each followed by a space. */
  const MESSAGE = 'Hi Ann, your visit is on Friday. Call us back. ';

  it('answers <Play> of a WAV the bot\'s TTS rendered once; the route serves it (μ-law 8 kHz) with a valid token', async () => {
    const turnsBefore = h.voicemailTts.turns;
    const { attemptId, body, callId } = await leaveMessage();
    const url = playUrl(body);
    expect(url.startsWith(`${ORIGIN}/twilio/voicemail/${attemptId}.wav?token=`)).toBe(true);
    expect(h.voicemailTts.texts.at(-1)).toBe('Call us back.');
    expect(h.voicemailTts.texts.slice(-2)).toEqual(['Hi Ann, your visit is on Friday.', 'Call us back.']);
    const first = await get(url);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toMatch(/^audio\/wav/);
    const wav = readWav(first.rawPayload);
    expect(wav).toMatchObject({ encoding: 'mulaw', sampleRate: 8000, channels: 1 });
    // 250 ms of lead-in silence, then the scripted TTS's 800 bytes a word (10 words).
    expect(wav.data.length).toBe(2000 + 10 * 800);
    // Twilio fetching twice: the same bytes, no second rendering.
    const second = await get(url);
    expect(second.statusCode).toBe(200);
    expect(Buffer.compare(second.rawPayload, first.rawPayload)).toBe(0);
    expect(h.voicemailTts.turns - turnsBefore).toBe(1);
    // What was synthesised is the call's usage, once.
    expect(await ttsChars(callId)).toBe(MESSAGE.length);
  });

  it('renders again from the database when the fetch misses the cache (another process, an evicted entry)', async () => {
    const { body, callId } = await leaveMessage();
    const url = playUrl(body);
    const turns = h.voicemailTts.turns;
    h.voicemail.clear();
    const res = await get(url);
    expect(res.statusCode).toBe(200);
    expect(readWav(res.rawPayload).data.length).toBe(2000 + 10 * 800);
    expect(h.voicemailTts.turns).toBe(turns + 1);
    // Sent twice, billed twice.
    expect(await ttsChars(callId)).toBe(2 * MESSAGE.length);
  });

  it('refuses (403) a missing, tampered, expired, foreign or other-purpose token', async () => {
    const a = await leaveMessage();
    const b = await leaveMessage();
    const path = `/twilio/voicemail/${a.attemptId}.wav`;
    const token = new URL(playUrl(a.body)).searchParams.get('token')!;
    const tokenB = new URL(playUrl(b.body)).searchParams.get('token')!;
    const at = (t: string) => get(`${path}?token=${encodeURIComponent(t)}`);
    expect((await get(path)).statusCode).toBe(403);
    expect((await at(`${token.slice(0, -2)}xx`)).statusCode).toBe(403);
    expect((await at(signCallToken('secret', { callId: a.callId, aud: 'voicemail', exp: Date.now() - 1000 }))).statusCode).toBe(403);
    expect((await at(signCallToken('another secret', { callId: a.callId, aud: 'voicemail', exp: Date.now() + 60_000 }))).statusCode).toBe(403);
    expect((await at(signCallToken('secret', { callId: a.callId, aud: 'twilio-media', exp: Date.now() + 60_000 }))).statusCode).toBe(403);
    // B's token opens B's message, never A's — cached or rendered again from the database.
    expect((await at(tokenB)).statusCode).toBe(403);
    h.voicemail.clear();
    expect((await at(tokenB)).statusCode).toBe(403);
    expect((await at(token)).statusCode).toBe(200);
    expect((await get(`/twilio/voicemail/${b.attemptId}.wav?token=${tokenB}`)).statusCode).toBe(200);
    // Not an attempt id: not found.
    expect((await get(`/twilio/voicemail/nope.wav?token=${token}`)).statusCode).toBe(404);
  });

  it('falls back to <Say> when the TTS fails, and the call\'s reason says so; the message is still left', async () => {
    h.voicemailTts.failTurns = 1;
    const { callId, body } = await leaveMessage();
    expect(body).toContain('<Say language="en-US">Hi Ann, your visit is on Friday. Call us back.</Say><Hangup/>');
    expect(body).not.toContain('<Play');
    const [call] = await h.t.db.sql<{ failure_reason: string }[]>`select failure_reason from calls where id = ${callId}`;
    expect(call!.failure_reason).toMatch(/^voicemail left with Twilio's voice, the bot's TTS failed: tts generation failed \(machine_end_beep\)$/);
    const [att] = await h.t.db.sql`select voicemail, answered_by from campaign_attempts where call_id = ${callId}`;
    expect(att).toMatchObject({ voicemail: 'left', answered_by: 'machine_end_beep' });
  });

  it('falls back to <Say> when the TTS cannot even open a session', async () => {
    h.voicemailTts.failOpens = 1;
    const { body } = await leaveMessage();
    expect(body).toContain('<Say language="en-US">');
  });
});
