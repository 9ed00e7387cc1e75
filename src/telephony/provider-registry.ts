/**
 * Picks each call's providers: the bot's choice, else the server default, else local. A cloud provider whose key
 * is missing falls back to the local one, with one log line saying so (once per provider, not per call).
 * Cloud adapters are built once and shared; they are stateless factories of per-call sessions.
 */
import { limitsOf } from '../bots/config-schema.js';
import type { Config } from '../config.js';
import type { BotRow } from '../db/bots.js';
import type { Logger } from '../log.js';
import { AnthropicLlm } from '../providers/llm/anthropic.js';
import { OpenAiLlm } from '../providers/llm/openai.js';
import { ScenarioEngine } from '../scenario/engine.js';
import { DeepgramStt } from '../providers/stt/deepgram.js';
import { NoRecognizerStt } from '../providers/stt/no-recognizer.js';
import { CartesiaTts } from '../providers/tts/cartesia.js';
import { PhraseCachingTts, PhraseStore } from '../providers/tts/phrase-cache.js';
import type { LlmProvider, ProviderSet, SttProvider, TtsProvider } from '../providers/types.js';

export type SttChoice = 'deepgram' | 'local';
export type LlmChoice = 'openai' | 'anthropic' | 'local';
export type TtsChoice = 'cartesia' | 'local';

export interface LocalProviders {
  stt: SttProvider;
  tts: TtsProvider;
}

export class ProviderRegistry {
  private readonly warned = new Set<string>();
  private readonly llmByModel = new Map<string, LlmProvider>();
  /** Deepgram adapters by endpointing ms (a per-bot limit that goes into the connection's query). */
  private readonly deepgramByEndpointing = new Map<number, SttProvider>();
  private readonly cartesia: TtsProvider | null;
  private readonly localTts: TtsProvider;
  readonly defaults: { stt: SttChoice; llm: LlmChoice; tts: TtsChoice };

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly local: LocalProviders,
  ) {
    this.defaults = {
      stt: config.DEFAULT_STT ?? (config.DEEPGRAM_API_KEY ? 'deepgram' : 'local'),
      llm: config.DEFAULT_LLM ?? (config.OPENAI_API_KEY ? 'openai' : config.ANTHROPIC_API_KEY ? 'anthropic' : 'local'),
      tts: config.DEFAULT_TTS ?? (config.CARTESIA_API_KEY ? 'cartesia' : 'local'),
    } as { stt: SttChoice; llm: LlmChoice; tts: TtsChoice };
    const maxBytes = config.TTS_PHRASE_CACHE_MB * 1024 * 1024;
    const store = new PhraseStore(maxBytes);
    const cached = (tts: TtsProvider): TtsProvider => (maxBytes > 0 ? new PhraseCachingTts(tts, { maxBytes, store }) : tts);
    this.cartesia = config.CARTESIA_API_KEY
      ? cached(new CartesiaTts({ apiKey: config.CARTESIA_API_KEY, voice: config.CARTESIA_VOICE_EN, baseUrl: config.CARTESIA_URL.replace(/^http/, 'ws'), model: config.CARTESIA_MODEL }))
      : null;
    this.localTts = cached(local.tts);
  }

  private fallback(kind: string, wanted: string, missing: string): void {
    const key = `${kind}:${wanted}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn({ kind, wanted, missing }, `${missing} is not set; ${kind} falls back to the local provider`);
  }

  forBot(bot: BotRow): ProviderSet {
    const choice = bot.config.providers ?? {};
    const sttWanted = choice.stt ?? this.defaults.stt;
    const llmWanted = choice.llm ?? this.defaults.llm;
    const ttsWanted = choice.tts ?? this.defaults.tts;

    let stt = this.local.stt;
    if (sttWanted === 'deepgram') {
      if (this.config.DEEPGRAM_API_KEY) stt = this.deepgramFor(limitsOf(bot.config).endpointingMs);
      else this.fallback('stt', 'deepgram', 'DEEPGRAM_API_KEY');
    }
    // No dead bots: a language the local recognizer lacks (ru) still takes greeting, typed text and keypad.
    if (stt === this.local.stt && bot.language !== 'en') stt = new NoRecognizerStt(bot.language);
    let tts = this.localTts;
    let voice: string | undefined;
    if (ttsWanted === 'cartesia') {
      if (this.cartesia) {
        tts = this.cartesia;
        voice = bot.config.voice ?? (bot.language === 'ru' ? this.config.CARTESIA_VOICE_RU : this.config.CARTESIA_VOICE_EN);
      } else this.fallback('tts', 'cartesia', 'CARTESIA_API_KEY');
    } else {
      voice = bot.config.voice;
    }
    return {
      stt,
      tts,
      voice,
      llm: this.llmFor(bot, llmWanted, choice.llmModel),
      sttModel: choice.stt === 'deepgram' ? choice.sttModel : undefined,
      ttsModel: choice.tts === 'cartesia' ? choice.ttsModel : undefined,
    };
  }

  private deepgramFor(endpointingMs: number): SttProvider {
    let stt = this.deepgramByEndpointing.get(endpointingMs);
    if (!stt) {
      const c = this.config;
      stt = new DeepgramStt({ apiKey: c.DEEPGRAM_API_KEY!, baseUrl: c.DEEPGRAM_URL, model: c.DEEPGRAM_MODEL, endpointingMs });
      this.deepgramByEndpointing.set(endpointingMs, stt);
    }
    return stt;
  }

  /**
   * The one place a cloud LLM is chosen and built, for calls and for post-call analysis alike: `wanted`
   * (default: the server's DEFAULT_LLM, else by which key is set), or null when that is the local engine or its
   * key is missing (logged once).
   */
  cloudLlm(wanted: LlmChoice = this.defaults.llm, model?: string): LlmProvider | null {
    const c = this.config;
    if (wanted === 'openai' && !c.OPENAI_API_KEY) this.fallback('llm', 'openai', 'OPENAI_API_KEY');
    else if (wanted === 'anthropic' && !c.ANTHROPIC_API_KEY) this.fallback('llm', 'anthropic', 'ANTHROPIC_API_KEY');
    else if (wanted === 'openai' || wanted === 'anthropic') {
      const m = model ?? (wanted === 'openai' ? c.OPENAI_MODEL : c.ANTHROPIC_MODEL);
      const key = `${wanted}:${m}`;
      let llm = this.llmByModel.get(key);
      if (!llm) {
        llm = wanted === 'openai'
          ? new OpenAiLlm({ apiKey: c.OPENAI_API_KEY!, baseUrl: c.OPENAI_BASE_URL, model: m })
          : new AnthropicLlm({ apiKey: c.ANTHROPIC_API_KEY!, baseUrl: c.ANTHROPIC_BASE_URL, model: m });
        this.llmByModel.set(key, llm);
      }
      return llm;
    }
    return null;
  }

  private llmFor(bot: BotRow, wanted: LlmChoice, model: string | undefined): LlmProvider {
    const cloud = this.cloudLlm(wanted, model);
    if (cloud) return cloud;
    // The scenario engine is per bot: it needs the bot's language and services.
    const services = (bot.config.booking as { services?: { name: string }[] } | undefined)?.services?.map((s) => s.name) ?? [];
    return new ScenarioEngine({ language: bot.language, services });
  }
}
