/**
 * SIGTERM's path (server.stop()): a live call hears a goodbye and is hung up and recorded as completed, then the
 * server stops accepting and the database closes — all within SHUTDOWN_TIMEOUT_MS. While it drains, /readyz is 503
 * (a load balancer sends new calls elsewhere), and a call that still reaches it hears the same goodbye and is
 * recorded as ended by the shutdown, not cut without a word. A call whose voice webhook reaches it then is handed
 * the stream only while another instance is there to take it; alone, it hears that the line is busy and is ended
 * `failed` / `server_shutdown: …` at once, never left ringing.
 */
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { DEMO_BOT_CONFIG } from '../../scripts/lib/demo.js';
import { TwilioCaller } from '../../scripts/lib/twilio-caller.js';
import { computeSignature } from '../../src/telephony/twilio/signature.js';
import { SHUTDOWN_NOTICE, SHUTDOWN_REFUSAL } from '../../src/telephony/twilio/voice-routes.js';

describe('graceful shutdown', () => {
  it('says goodbye to live calls, records them, then stops', async () => {
    const dataDir = `/tmp/parley-shutdown-${process.pid}`;
    const config = testConfig({ HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: 'admin-sd-0123456789abcdefghijklmnopqrstu', TWILIO_AUTH_TOKEN: 'twilio-sd', SHUTDOWN_TIMEOUT_MS: '15000' });
    const server = await startServer(config, createLogger('silent'), { port: 0 });
    const company = await fetch(`${server.url}/v1/admin/companies`, { method: 'POST', headers: { authorization: 'Bearer admin-sd-0123456789abcdefghijklmnopqrstu', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Shutdown Co' }) });
    const apiKey = ((await company.json()) as { api_key: { key: string } }).api_key.key;
    await fetch(`${server.url}/v1/bots`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Desk', phone_number: '+15550108888', config: DEMO_BOT_CONFIG }) });

    const caller = await TwilioCaller.dial({ server: server.url, publicOrigin: config.PUBLIC_URL, authToken: 'twilio-sd', from: '+15557654321', to: '+15550108888' });
    await caller.waitForBotAudio(20_000);
    await caller.waitForBotQuiet(500, 30_000);
    const before = caller.botAudioBytes;

    // Another instance heartbeats (behind a balancer its PUBLIC_URL takes the late call's stream; here it lands here).
    const [other] = await server.db.sql<{ id: string }[]>`insert into instances (id, hostname, pid) values (gen_random_uuid(), 'other', 1) returning id`;
    const started = Date.now();
    const stopping = server.stop();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'shutting down' });
    const late = await TwilioCaller.dial({ server: server.url, publicOrigin: config.PUBLIC_URL, authToken: 'twilio-sd', from: '+15557654322', to: '+15550108888' });
    await late.waitForBotAudio(20_000);
    expect(late.botAudioBytes).toBeGreaterThan(0); // the shutdown goodbye, not silence
    // Alone now: a new call hears that the line is busy instead of a stream nobody would answer.
    await server.db.sql`delete from instances where id = ${other!.id}`;
    const alone = { CallSid: 'CAalone', From: '+15557654323', To: '+15550108888', Direction: 'inbound' };
    const busy = await fetch(`${server.url}/twilio/voice`, {
      method: 'POST', body: new URLSearchParams(alone).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeSignature('twilio-sd', `${config.PUBLIC_URL}/twilio/voice`, alone) },
    });
    const busyTwiml = await busy.text();
    expect(busyTwiml).toContain(SHUTDOWN_NOTICE.en);
    expect(busyTwiml).not.toContain('<Stream');
    await stopping;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await late.closed).code).toBe(1000);

    // The caller heard a goodbye and Parley closed the stream (Twilio then ends the call).
    expect(caller.botAudioBytes).toBeGreaterThan(before);
    expect((await caller.closed).code).toBe(1000);
    // The server no longer accepts connections.
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();

    // Reopen the data directory: the call is recorded as ended with the shutdown as its reason.
    const again = await startServer({ ...config, ADMIN_TOKEN: 'admin-sd-0123456789abcdefghijklmnopqrstu' }, createLogger('silent'), { port: 0 });
    try {
      const res = await fetch(`${again.url}/v1/calls/${caller.callId}`, { headers: { authorization: `Bearer ${apiKey}` } });
      const call = (await res.json()) as { status: string; ended_at: string | null; transcript: Array<{ role: string; text: string }> };
      expect(call.status).toBe('completed');
      expect(call.ended_at).not.toBeNull();
      expect(call.transcript.filter((t) => t.role === 'bot').length).toBeGreaterThanOrEqual(2);
      const [lateRow] = await again.db.sql<{ status: string; end_reason: string }[]>`select status, end_reason from calls where id = ${late.callId}`;
      expect(lateRow).toEqual({ status: 'completed', end_reason: 'server_shutdown' });
      const [aloneRow] = await again.db.sql<{ status: string; end_reason: string }[]>`select status, end_reason from calls where twilio_call_sid = 'CAalone'`;
      expect(aloneRow).toEqual({ status: 'failed', end_reason: SHUTDOWN_REFUSAL });
    } finally {
      await again.stop();
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000); // a start on a new data directory: without a prepared template (a fresh clone) it runs initdb
});
