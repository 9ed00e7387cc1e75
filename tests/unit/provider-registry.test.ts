import { describe, expect, it } from 'vitest';
import type { BotConfig } from '../../src/bots/config-schema.js';
import { testConfig } from '../../src/config.js';
import type { BotRow } from '../../src/db/bots.js';
import type { Logger } from '../../src/log.js';
import { ProviderRegistry } from '../../src/telephony/provider-registry.js';
import { PhraseCachingTts } from '../../src/providers/tts/phrase-cache.js';
import type { SttProvider, TtsProvider } from '../../src/providers/types.js';

const localStt = { name: 'local' } as SttProvider;
const localTts = { name: 'local' } as TtsProvider;

function bot(config: Partial<BotConfig> = {}, language: 'en' | 'ru' = 'en'): BotRow {
  return { id: 'b', company_id: 'c', name: 'Bot', phone_number: null, language, is_active: true, created_at: new Date(), updated_at: new Date(), config: { greeting: 'Hi', systemPrompt: '', ...config } };
}

function logger() {
  const warnings: string[] = [];
  const log = { warn: (_o: object, msg: string) => void warnings.push(msg), info() {}, error() {}, debug() {} } as unknown as Logger;
  return { log, warnings };
}

describe('provider registry', () => {
  it('with no keys everything is local, and a bot asking for a cloud provider falls back with one log line', () => {
    const { log, warnings } = logger();
    const r = new ProviderRegistry(testConfig(), log, { stt: localStt, tts: localTts });
    expect(r.defaults).toEqual({ stt: 'local', llm: 'local', tts: 'local' });
    const cloud = bot({ providers: { stt: 'deepgram', llm: 'openai', tts: 'cartesia' } });
    const a = r.forBot(cloud);
    r.forBot(cloud);
    expect(a.stt).toBe(localStt);
    expect(a.tts).toBeInstanceOf(PhraseCachingTts); // the local TTS behind the phrase cache
    expect(a.tts.name).toBe('local');
    expect(a.llm.name).toBe('scenario');
    expect(warnings.filter((w) => w.includes('DEEPGRAM_API_KEY'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('OPENAI_API_KEY'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('CARTESIA_API_KEY'))).toHaveLength(1);
  });

  it('with keys the cloud adapters are the defaults; a bot may choose otherwise', () => {
    const { log } = logger();
    const r = new ProviderRegistry(testConfig({ DEEPGRAM_API_KEY: 'dg', CARTESIA_API_KEY: 'ca', ANTHROPIC_API_KEY: 'an' }), log, { stt: localStt, tts: localTts });
    expect(r.defaults).toEqual({ stt: 'deepgram', llm: 'anthropic', tts: 'cartesia' });
    const ru = r.forBot(bot({}, 'ru'));
    expect(ru.stt.name).toBe('deepgram');
    expect(ru.tts.name).toBe('cartesia');
    expect(ru.llm.name).toBe('anthropic');
    expect(ru.voice).toBe(testConfig().CARTESIA_VOICE_RU);
    const local = r.forBot(bot({ providers: { stt: 'local', llm: 'local', tts: 'local' }, voice: 'kal16' }));
    expect([local.stt, local.tts.name, local.llm.name, local.voice]).toEqual([localStt, 'local', 'scenario', 'kal16']);
    // Bots with different endpointing get their own Deepgram adapter; the same setting shares one.
    const slow = r.forBot(bot({ limits: { endpointingMs: 800 } }));
    expect(slow.stt).not.toBe(ru.stt);
    expect(r.forBot(bot({ limits: { endpointingMs: 800 } })).stt).toBe(slow.stt);
  });

  it('puts TTS behind the phrase cache unless TTS_PHRASE_CACHE_MB is 0', () => {
    const { log } = logger();
    const off = new ProviderRegistry(testConfig({ TTS_PHRASE_CACHE_MB: '0' }), log, { stt: localStt, tts: localTts });
    expect(off.forBot(bot()).tts).toBe(localTts);
    const on = new ProviderRegistry(testConfig({ CARTESIA_API_KEY: 'ca' }), log, { stt: localStt, tts: localTts });
    expect(on.forBot(bot()).tts).toBeInstanceOf(PhraseCachingTts);
  });
});
