import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwilioRestClient } from '../../src/telephony/twilio/rest.js';
import { ParleyError } from '../../src/errors.js';
import { FakeTwilioRest } from '../fakes/fakeTwilioRest.js';

let fake: FakeTwilioRest;
let client: TwilioRestClient;
const CALL = 'CA1234567890abcdef1234567890abcdef';

beforeAll(async () => {
  fake = await FakeTwilioRest.start();
  client = new TwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url, retryDelayMs: 1 });
});
afterAll(() => fake.close());

describe('TwilioRestClient against fakeTwilioRest', () => {
  it('transfers a live call with TwiML <Dial>', async () => {
    await client.transferCall(CALL, '+15551234567', { callerId: '+15557654321' });
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${fake.accountSid}/Calls/${CALL}.json`);
    expect(req.form.get('Twiml')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+15557654321"><Number>+15551234567</Number></Dial></Response>',
    );
  });

  it('rejects a transfer target that is not E.164 without calling Twilio', async () => {
    const before = fake.requests.length;
    await expect(client.transferCall(CALL, '555<Hangup/>')).rejects.toMatchObject({ code: 'PARLEY_ERR_VALIDATION' });
    expect(fake.requests.length).toBe(before);
  });

  it('hangs up with Status=completed', async () => {
    await client.hangupCall(CALL);
    expect(Object.fromEntries(fake.requests.at(-1)!.form)).toEqual({ Status: 'completed' });
  });

  it('creates an outbound call with the documented form fields', async () => {
    const call = await client.createCall({
      to: '+15551234567',
      from: '+15557654321',
      url: 'https://parley.example/twilio/voice',
      statusCallback: 'https://parley.example/twilio/status',
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      timeoutSec: 30,
      machineDetection: 'Enable',
      asyncAmdStatusCallback: 'https://parley.example/twilio/amd',
    });
    expect(call.sid).toMatch(/^CA/);
    expect(call.status).toBe('queued');
    const form = fake.requests.at(-1)!.form;
    expect(form.getAll('StatusCallbackEvent')).toEqual(['initiated', 'ringing', 'answered', 'completed']);
    expect({
      To: form.get('To'), From: form.get('From'), Url: form.get('Url'), Timeout: form.get('Timeout'),
      MachineDetection: form.get('MachineDetection'), AsyncAmd: form.get('AsyncAmd'), StatusCallbackMethod: form.get('StatusCallbackMethod'),
    }).toEqual({
      To: '+15551234567', From: '+15557654321', Url: 'https://parley.example/twilio/voice', Timeout: '30',
      MachineDetection: 'Enable', AsyncAmd: 'true', StatusCallbackMethod: 'POST',
    });
  });

  it('turns bad credentials into a clear error', async () => {
    const bad = new TwilioRestClient({ accountSid: fake.accountSid, authToken: 'wrong', baseUrl: fake.url });
    const err = await bad.hangupCall(CALL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).message).toBe('Twilio rejected the account credentials');
    expect(fake.requests.at(-1)!.authorization).not.toBe(`Basic ${Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64')}`);
  });

  it('retries an update after a 5xx, but never retries a create after a 5xx', async () => {
    fake.failures = [503];
    let before = fake.requests.length;
    await client.hangupCall(CALL);
    expect(fake.requests.length - before).toBe(2);

    fake.failures = [500];
    before = fake.requests.length;
    await expect(client.createCall({ to: '+15551234567', from: '+15557654321', twiml: '<Response/>' })).rejects.toMatchObject({
      details: { status: 500 },
    });
    expect(fake.requests.length - before).toBe(1);
  });

  it('reports a call that already ended with Twilio’s message', async () => {
    fake.missingCalls.add('CAgone');
    await expect(client.hangupCall('CAgone')).rejects.toThrow(/was not found/);
  });
});
