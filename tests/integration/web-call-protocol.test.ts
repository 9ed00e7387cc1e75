/**
 * The web-call transport end to end over a real socket, on the real call loop (CallRunner → CallSession →
 * PgCallRecorder) with scripted providers: ready, audio both ways, marks, clear on barge-in, live transcript and
 * latency events, malformed frames survived, and the call stored like a phone call (direction 'web').
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcriptOf, type CallWithTranscript } from '../../src/db/calls.js';
import { WebCallTransport } from '../../src/telephony/web/web-transport.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from '../helpers/scripted-providers.js';
import { PUBLIC_URL, startWebCallApp, WebCallClient, type WebCallApp } from '../fixtures/web/web-call-harness.js';

let app: WebCallApp;
let stt: ScriptedStt;
let llm: ScriptedLlm;

beforeAll(async () => {
  app = await startWebCallApp(() => {
    stt = new ScriptedStt();
    llm = new ScriptedLlm((request) => {
      const last = request.messages[request.messages.length - 1];
      const text = last && last.role === 'user' ? last.content : '';
      return `You said: ${text}. We are open from nine to five. Anything else?`;
    }, { firstTokenMs: 5, tokenMs: 1 });
    return { stt, llm, tts: new ScriptedTts({ firstAudioMs: 5, chunkMs: 1, bytesPerWord: 3201 }) };
  });
}, 180_000);
afterAll(async () => {
  await app.close();
});

async function connectReady(origin = PUBLIC_URL) {
  const { apiKey, botId, companyId } = await app.newBot();
  const minted = await app.mint(apiKey, botId);
  const client = await WebCallClient.connect(app.wsUrl, origin);
  client.send({ type: 'start', token: minted.token });
  const ready = await client.untilMessage((m) => m.type === 'ready' || m.type === 'error');
  return { client, minted, ready, apiKey, botId, companyId };
}

async function callRow(id: string): Promise<CallWithTranscript> {
  const [row] = await app.db.sql<CallWithTranscript[]>`select c.*, ${transcriptOf(app.db.sql)} as transcript from calls c where c.id = ${id}`;
  return row!;
}

const finalFrom = (client: WebCallClient, role: string, includes: string) =>
  client.untilMessage((m) => m.type === 'transcript' && m.role === role && m.final === true && String(m.text).includes(includes));

describe('web call over the call loop', () => {
  it('mints a token that creates a queued web call row and a page link with the token in the fragment', async () => {
    const { apiKey, botId, companyId } = await app.newBot();
    const minted = await app.mint(apiKey, botId);
    expect(minted.token).toMatch(/^wct_/);
    expect(minted.socket_url).toBe('wss://parley.example/web-call/socket');
    expect(minted.page_url).toBe(`${PUBLIC_URL}/call/${botId}#token=${encodeURIComponent(minted.token)}`);
    const row = await callRow(minted.call_id);
    expect(row).toMatchObject({ direction: 'web', status: 'queued', company_id: companyId, bot_id: botId });
    const [stored] = await app.db.sql`select token_hash from web_call_tokens where call_id = ${minted.call_id}`;
    expect(stored!.token_hash).not.toContain(minted.token.slice(4));
  });

  it('runs a whole call: greeting audio and marks, caller audio reaches STT, a typed turn, latency, stored transcript', async () => {
    const { client, minted, ready } = await connectReady();
    expect(ready).toEqual({ type: 'ready', call_id: minted.call_id });
    await finalFrom(client, 'bot', 'How can I help?');
    expect(client.audioBytes).toBeGreaterThan(0);
    expect(client.of('mark').length).toBeGreaterThan(0);

    const frame = new Uint8Array(640);
    const framesBefore = stt.audioFrames;
    for (let i = 0; i < 10; i++) client.sendRaw(frame);
    client.send({ type: 'text', text: 'When are you open' });
    await finalFrom(client, 'caller', 'When are you open');
    await finalFrom(client, 'bot', 'nine to five');
    expect(stt.audioFrames - framesBefore).toBe(10);
    const latency = await client.untilMessage((m) => m.type === 'turn_latency');
    expect((latency.latency as Record<string, unknown>).ttsFirstAudioMs).toEqual(expect.any(Number));

    client.send({ type: 'end' });
    await client.closed;
    expect(client.closeCode).toBe(1000);
    expect(client.of('ended')[0]).toMatchObject({ type: 'ended', reason: expect.stringContaining('caller_hangup') });
    const row = await callRow(minted.call_id);
    expect(row.status).toBe('completed');
    expect(row.direction).toBe('web');
    expect(row.ended_at).not.toBeNull();
    const texts = row.transcript.map((t) => `${t.role}: ${t.text}`);
    expect(texts).toContain('caller: When are you open');
    expect(texts.some((t) => t.startsWith('bot: You said: When are you open'))).toBe(true);
    const [job] = await app.db.sql`select kind from jobs where dedupe_key = ${`analyze:${minted.call_id}`}`;
    expect(job?.kind).toBe('analyze_call');
  });

  it('a caller interrupting sends clear, and only the heard part of the greeting is stored', async () => {
    const { client, minted } = await connectReady();
    client.autoEchoMarks = false;
    // Output is paced by marks, one per ~100 ms slice (t1-<phrase>.<slice>): report the first phrase played,
    // slice by slice, until the second phrase's audio is on its way; that one is never reported played.
    const echoed = new Set<string>();
    await client.until(() => {
      for (const m of client.of('mark')) {
        const name = String(m.name);
        if (name.startsWith('t1-0.') && !echoed.has(name)) {
          echoed.add(name);
          client.send({ type: 'mark-played', name });
        }
      }
      return client.of('mark').some((m) => String(m.name).startsWith('t1-1.'));
    });
    const firstUnheard = client.of('mark').findIndex((m) => String(m.name).startsWith('t1-1.'));
    client.send({ type: 'text', text: 'Sorry to cut in' });
    await client.untilMessage((m) => m.type === 'clear');
    await finalFrom(client, 'caller', 'Sorry to cut in');
    client.autoEchoMarks = true;
    for (const m of client.of('mark').slice(firstUnheard + 1)) client.send({ type: 'mark-played', name: m.name });
    await finalFrom(client, 'bot', 'Sorry to cut in');
    client.send({ type: 'end' });
    await client.closed;
    const row = await callRow(minted.call_id);
    const interrupted = row.transcript.find((t) => t.interrupted);
    expect(interrupted).toMatchObject({ role: 'bot', text: 'Hello, thanks for calling.' });
  });

  it('survives malformed frames, counting each', async () => {
    const before = await malformedCount();
    const { client, minted } = await connectReady();
    await finalFrom(client, 'bot', 'How can I help?');
    client.sendRaw('not json');
    client.sendRaw('{"type":"bogus"}');
    client.sendRaw('[1,2]');
    client.sendRaw('{"type":"dtmf","digit":"x"}');
    client.sendRaw('{"type":"text","text":"   "}');
    client.sendRaw('{"type":"start","token":"again"}');
    client.send({ type: 'mark-played', name: 'no-such-mark' });
    client.sendRaw(new Uint8Array(3));
    client.sendRaw(new Uint8Array(0));
    client.sendRaw(new Uint8Array(40_000));
    // JSON nested deeper than any message (costly to parse: a flood of them stalled every call) and a frame larger
    // than any message: dropped unread.
    client.sendRaw('['.repeat(9_000));
    client.sendRaw(JSON.stringify({ type: 'text', text: 'x'.repeat(17_000) }));
    client.send({ type: 'dtmf', digit: '5' });
    await finalFrom(client, 'bot', '[keypad] 5');
    expect((await malformedCount()) - before).toBe(12);
    expect(client.closeCode).toBeNull();
    client.send({ type: 'end' });
    await client.closed;
    expect((await callRow(minted.call_id)).status).toBe('completed');
  });

  it('serves the call page and its assets with a strict content security policy', async () => {
    const page = await app.app.inject({ method: 'GET', url: '/call/0b7f7c43-2a8e-4d53-9a0e-6d5b8c4a1f00' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('aria-live="polite"');
    const demo = await app.app.inject({ method: 'GET', url: '/call' });
    expect(demo.statusCode).toBe(200);
    for (const asset of ['call.js', 'capture-worklet.js', 'playback-worklet.js', 'call.css']) {
      const res = await app.app.inject({ method: 'GET', url: `/call-assets/${asset}` });
      expect(res.statusCode, asset).toBe(200);
    }
    expect((await app.app.inject({ method: 'GET', url: '/call-assets/..%2Fpage-route.ts' })).statusCode).toBe(404);
    expect((await app.app.inject({ method: 'GET', url: '/call-assets/constructor' })).statusCode).toBe(404);
  });
});

describe('WebCallTransport', () => {
  it('sends whole PCM16 samples even when audio chunks have odd lengths, and echoes marks on clear', async () => {
    const sent: (string | Uint8Array)[] = [];
    const ws = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: (d: string | Uint8Array) => sent.push(d instanceof Uint8Array ? d.slice() : d), close: () => {} };
    const t = new WebCallTransport(ws as never, () => {});
    const marks: string[] = [];
    t.attach({ onAudio: () => {}, onDtmf: () => {}, onText: () => {}, onMark: (n) => marks.push(n), onClose: () => {} });
    t.sendAudio(new Uint8Array([1, 2, 3]));
    t.sendAudio(new Uint8Array([4, 5, 6]));
    t.sendAudio(new Uint8Array([7]));
    const audio = sent.filter((s): s is Uint8Array => s instanceof Uint8Array);
    expect(audio.map((a) => [...a])).toEqual([[1, 2], [3, 4, 5, 6]]);
    t.sendMark('a');
    t.sendMark('b');
    t.receive({ type: 'mark-played', name: 'a' });
    t.clear();
    expect(marks).toEqual(['a']);
    await Promise.resolve();
    expect(marks).toEqual(['a', 'b']);
    t.receive({ type: 'mark-played', name: 'b' });
    expect(marks).toEqual(['a', 'b']);
    expect(sent.filter((s) => typeof s === 'string').map((s) => JSON.parse(s as string).type)).toEqual(['mark', 'mark', 'clear']);
  });
});

async function malformedCount(): Promise<number> {
  const m = await app.metrics.malformedFrames.get();
  return m.values.find((v) => v.labels.transport === 'web')?.value ?? 0;
}
