import { describe, expect, it } from 'vitest';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import type { BotRow } from '../../src/db/bots.js';
import { createLogger } from '../../src/log.js';
import type { SttProvider, SttSession, SttSessionOptions, TtsProvider, TtsSession, TtsSessionOptions } from '../../src/providers/types.js';
import type { ProviderSet } from '../../src/providers/types.js';
import { ProviderPrewarmer } from '../../src/telephony/prewarm.js';
import { providerSessionOptions, sessionInputsFor } from '../../src/call/provider-sessions.js';

const bot: BotRow = {
  id: 'b1', company_id: 'c1', name: 'Bot', phone_number: '+15550001111', language: 'en', is_active: true,
  created_at: new Date(), updated_at: new Date(), config: { greeting: 'Hi', systemPrompt: '', voice: 'v1' },
};

/** Providers whose sessions record how they were opened and whether they were closed. */
function providers() {
  const stt: Array<{ options: SttSessionOptions; closed: boolean; session: SttSession }> = [];
  const tts: Array<{ options: TtsSessionOptions; closed: boolean; session: TtsSession }> = [];
  const set: ProviderSet = {
    stt: {
      name: 'stt',
      async open(options) {
        const rec = { options, closed: false, session: null as unknown as SttSession };
        rec.session = { pushAudio() {}, finalize() {}, events: (async function* () {})(), close: async () => void (rec.closed = true) };
        stt.push(rec);
        return rec.session;
      },
    } satisfies SttProvider,
    tts: {
      name: 'tts',
      async open(options) {
        const rec = { options, closed: false, session: null as unknown as TtsSession };
        rec.session = { startTurn: () => { throw new Error('unused'); }, close: async () => void (rec.closed = true) };
        tts.push(rec);
        return rec.session;
      },
    } satisfies TtsProvider,
    llm: { name: 'llm' } as ProviderSet['llm'],
    voice: 'v1',
  };
  return { set, stt, tts };
}

const formats = { input: TWILIO_FORMAT, output: TWILIO_FORMAT };
// What the call's session asks for: built by the same function as the prewarmed sessions' options (the bot's name is a keyterm).
const sttOptions = (signal: AbortSignal): SttSessionOptions => ({ ...providerSessionOptions(sessionInputsFor(bot, providers().set), formats).stt, signal });
const ttsOptions: TtsSessionOptions = { format: TWILIO_FORMAT, language: 'en', voice: 'v1' };
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('ProviderPrewarmer', () => {
  it('opens the sessions at the webhook and hands them to the call: no second connection', async () => {
    const p = providers();
    const prewarmer = new ProviderPrewarmer({ providersFor: () => p.set, log: createLogger('silent') });
    prewarmer.warm('call-1', bot, formats);
    prewarmer.warm('call-1', bot, formats); // Twilio retrying the webhook opens nothing more
    await tick();
    expect([p.stt.length, p.tts.length]).toEqual([1, 1]);

    const adopted = prewarmer.adopt('call-1', p.set);
    const callAbort = new AbortController();
    expect(await adopted.stt.open(sttOptions(callAbort.signal))).toBe(p.stt[0]!.session);
    expect(await adopted.tts.open(ttsOptions)).toBe(p.tts[0]!.session);
    expect([p.stt.length, p.tts.length]).toEqual([1, 1]);
    // A reconnect later in the call is a fresh session.
    await adopted.stt.open(sttOptions(callAbort.signal));
    expect(p.stt.length).toBe(2);
    // The call's end reaches the session opened ahead of it.
    expect(p.stt[0]!.options.signal.aborted).toBe(false);
    callAbort.abort();
    expect(p.stt[0]!.options.signal.aborted).toBe(true);
    expect(prewarmer.size).toBe(0);
  });

  it('opens afresh (and closes the early session) when the call asks for other options', async () => {
    const p = providers();
    const prewarmer = new ProviderPrewarmer({ providersFor: () => p.set, log: createLogger('silent') });
    prewarmer.warm('call-2', bot, formats);
    const adopted = prewarmer.adopt('call-2', p.set);
    const other = await adopted.tts.open({ ...ttsOptions, voice: 'v2' });
    await tick();
    expect(other).toBe(p.tts[1]!.session);
    expect(p.tts[0]!.closed).toBe(true);
  });

  it('closes sessions whose call never streamed, after the TTL and on shutdown', async () => {
    const p = providers();
    const prewarmer = new ProviderPrewarmer({ providersFor: () => p.set, log: createLogger('silent'), ttlMs: 20 });
    prewarmer.warm('lost', bot, formats);
    await new Promise((r) => setTimeout(r, 60));
    expect([p.stt[0]!.closed, p.tts[0]!.closed]).toEqual([true, true]);
    expect(p.stt[0]!.options.signal.aborted).toBe(true);
    expect(prewarmer.size).toBe(0);
    // Adopting after expiry is just the plain providers.
    expect(prewarmer.adopt('lost', p.set)).toBe(p.set);

    const q = providers();
    const other = new ProviderPrewarmer({ providersFor: () => q.set, log: createLogger('silent') });
    other.warm('pending', bot, formats);
    await other.close();
    expect([q.stt[0]!.closed, q.tts[0]!.closed]).toEqual([true, true]);
  });

  it('falls back to a normal open when the early one failed', async () => {
    const p = providers();
    let failures = 1;
    const flaky: ProviderSet = {
      ...p.set,
      tts: { name: 'tts', open: async (o) => (failures-- > 0 ? Promise.reject(new Error('connect refused')) : p.set.tts.open(o)) },
    };
    const prewarmer = new ProviderPrewarmer({ providersFor: () => flaky, log: createLogger('silent') });
    prewarmer.warm('call-3', bot, formats);
    await tick();
    const adopted = prewarmer.adopt('call-3', flaky);
    expect(await adopted.tts.open(ttsOptions)).toBe(p.tts[0]!.session);
  });
});
