/**
 * A call the bot places: the API asks (fake) Twilio to dial; when the callee answers, Twilio fetches the call's
 * answer URL and streams the media; the conversation runs through the real adapters and lands in the database
 * as an outbound call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { mulawToneFrame } from '../fakes/fakeDeepgram.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';
import { PUBLIC_ORIGIN, startCloudStack, type CloudStack } from '../helpers/cloud-stack.js';
import { storedTranscript, untilTranscriptHas } from '../helpers/transcript.js';

describe('an outbound call', () => {
  let twilio: FakeTwilioRest;
  let s: CloudStack;
  beforeAll(async () => {
    twilio = await FakeTwilioRest.start();
    s = await startCloudStack({
      deepgram: { utterances: ['yes I can come on Friday'], finalLatencyMs: 20 },
      openai: { firstTokenLatencyMs: 20 },
      cartesia: { firstAudioLatencyMs: 20 },
      botConfig: { greeting: 'Hello, this is Alpha Salon calling about your appointment.' },
      twilioRest: { url: twilio.url, accountSid: twilio.accountSid, authToken: twilio.authToken },
    });
  });
  afterAll(async () => {
    await s?.close();
    await twilio?.close();
  });

  it('dials, greets the callee who answers, and stores the conversation', async () => {
    s.openai.reply = { text: 'Great, see you on Friday.' };
    const placed = await s.t.app.inject({ method: 'POST', url: `/v1/bots/${s.botId}/calls`, headers: s.t.as(s.company.apiKey), payload: { to: '+15551230000' } });
    expect(placed.statusCode).toBe(201);
    const call = placed.json() as { id: string; twilio_call_sid: string };
    const answerUrl = new URL(twilio.requests.at(-1)!.form.get('Url')!);

    // The callee answers: Twilio (the caller here) fetches the answer URL with the call's SID, then streams.
    const callee = await TwilioCaller.dial({
      server: s.url, publicOrigin: PUBLIC_ORIGIN, authToken: s.twilioAuthToken,
      from: s.botNumber, to: '+15551230000', callSid: call.twilio_call_sid, answerPath: answerUrl.pathname,
    });
    expect(callee.callId).toBe(call.id);
    expect(await callee.waitForBotAudio(5000)).toBe(true);
    await untilTranscriptHas(s.t.db.sql, call.id, 'bot', 'Hello, this is Alpha Salon');
    await callee.say(mulawToneFrame(1000, 8000));
    expect(await callee.waitForBotAudio(10_000)).toBe(true);
    // Output is paced to playback: the answer is heard (and stored) only as the callee plays it, so hang up once
    // it is in the transcript, not at the first short gap in the audio (a loaded machine makes gaps).
    await untilTranscriptHas(s.t.db.sql, call.id, 'bot', 'Great, see you on Friday.');
    await callee.hangup();

    let row: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && row?.status !== 'completed'; i++) {
      [row] = await s.t.db.sql`select * from calls where id = ${call.id}`;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(row).toMatchObject({ direction: 'outbound', status: 'completed', from_number: s.botNumber, to_number: '+15551230000' });
    const transcript = await storedTranscript(s.t.db.sql, call.id);
    expect(transcript[0]).toMatchObject({ role: 'bot', text: 'Hello, this is Alpha Salon calling about your appointment.' });
    expect(transcript).toContainEqual(expect.objectContaining({ role: 'caller', text: 'yes I can come on Friday' }));
    expect(transcript).toContainEqual(expect.objectContaining({ role: 'bot', text: 'Great, see you on Friday.' }));
    // The sessions opened at the answer webhook were the call's: one connection to each vendor.
    expect(s.deepgram.connections).toHaveLength(1);
    expect(s.cartesia.connections).toHaveLength(1);
  });
});
