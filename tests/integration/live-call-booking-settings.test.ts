/**
 * A live call books by the bot as it was when the call began, as it speaks by it (web calls, the real CallRunner and
 * booking tools, a scripted LLM). The caller asks for a haircut — 60 minutes, 40 dollars when the call starts — and
 * hears the times; the company then changes the haircut to 90 minutes at 55 dollars (PATCH /v1/bots/…); the caller
 * books. Before, the prompt and the tools' own settings were the call's copy while the booking service read the bot
 * again for every tool call: the booking was stored at the new price and length, not the ones the call was made
 * with. Now every booking step of a call uses the call's copy (service.ts AsCalled); the change applies from the
 * next call.
 */
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookingTools } from '../../src/bookings/tools.js';
import { startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { storedTranscript } from '../helpers/transcript.js';
import { until } from '../helpers/until.js';
import { salon, ZONE } from './booking-fixtures.js';

/** Next week's Monday at 10:00 in the salon's zone, as check_availability gives a slot's start. */
const monday = DateTime.now().setZone(ZONE).plus({ weeks: 1 }).set({ weekday: 1, hour: 10, minute: 0, second: 0, millisecond: 0 });
const START = monday.toISO()!;

let app: WebCallApp;

beforeAll(async () => {
  app = await startWebCallApp(() => ({
    stt: new ScriptedStt(),
    // Turn 1: the times on Monday (a window: nothing is held); turn 2: the caller's yes books 10:00.
    llm: new ScriptedLlm((_r, i) => [
      { toolCalls: [{ id: 'a1', name: 'check_availability', arguments: { service: 'Haircut', when: 'next Monday morning' } }] },
      'A haircut is forty dollars and takes an hour. Monday at ten is free. Shall I book it?',
      { toolCalls: [{ id: 'b1', name: 'book_appointment', arguments: { service: 'Haircut', when: START, customer_name: 'Jane Doe', customer_phone: '212 555 0100' } }] },
    ][i] ?? 'Anything else?', { firstTokenMs: 1, tokenMs: 1 }),
    tts: new ScriptedTts({ firstAudioMs: 1, chunkMs: 1, bytesPerWord: 640 }),
  }), { runner: (db) => ({ toolsFor: () => bookingTools({ db: db.sql, holdSec: 300 }) }) });
}, 180_000);
afterAll(async () => {
  await app?.close();
});

describe('booking settings changed during a call', () => {
  it('the booking is stored with the price and length the call began with, and the caller hears it booked', async () => {
    const { apiKey, botId } = await app.newBot({ booking: salon });
    const { call_id: callId, token } = await app.mint(apiKey, botId);
    const client = await WebCallClient.connect(app.wsUrl, 'https://parley.example');
    client.send({ type: 'start', token });
    await client.untilMessage((m) => m.type === 'ready');
    const botTurns = (n: number) => until(async () => {
      const turns = (await storedTranscript(app.db.sql, callId)).filter((x) => x.role === 'bot');
      return turns.length >= n ? turns : null;
    });
    await botTurns(1);
    client.send({ type: 'text', text: 'Can I get a haircut on Monday morning?' });
    await botTurns(2);

    const changed = { ...salon, services: salon.services.map((s) => (s.id === 'haircut' ? { ...s, durationMin: 90, price: 55 } : s)) };
    const config = (await app.app.inject({ method: 'GET', url: `/v1/bots/${botId}`, headers: app.as(apiKey) })).json().config as object;
    const patch = await app.app.inject({ method: 'PATCH', url: `/v1/bots/${botId}`, headers: app.as(apiKey), payload: { config: { ...config, booking: changed } } });
    expect(patch.statusCode, patch.body).toBe(200);

    client.send({ type: 'text', text: 'Yes, ten please. Jane Doe, 212 555 0100.' });
    const turns = await botTurns(3);
    client.send({ type: 'end' });
    await client.closed;

    const [booking] = await app.db.sql<{ service_name: string; price: string; starts_at: Date; ends_at: Date; status: string }[]>`
      select service_name, price::text as price, starts_at, ends_at, status from bookings where call_id = ${callId}`;
    expect(booking).toMatchObject({ service_name: 'Haircut', status: 'confirmed' });
    expect(Number(booking!.price)).toBe(40);
    expect(booking!.starts_at.getTime()).toBe(monday.toMillis());
    expect(booking!.ends_at.getTime() - booking!.starts_at.getTime()).toBe(60 * 60_000);
    expect(turns.at(-1)!.text).toMatch(/^You're booked for Haircut .*10:00 AM\.$/);

    // The next call meets the bot as changed.
    const next = await app.db.sql<{ config: { booking: typeof salon } }[]>`select config from bots where id = ${botId}`;
    expect(next[0]!.config.booking.services.find((s) => s.id === 'haircut')).toMatchObject({ durationMin: 90, price: 55 });
  });
});
