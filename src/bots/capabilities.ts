/**
 * What a bot will lack on this server, said up front: no recognizer for its language, no voice, no LLM, only the
 * lexical embedder. The bots API returns these as `warnings` (POST/PATCH/GET /v1/bots) and `npm start` logs them
 * once per bot, each with what fixes it. Nothing here stops a bot from working: a bot without a recognizer still
 * greets, reads typed text and keypad digits (src/providers/stt/no-recognizer.ts).
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { RootSql } from '../db/sql.js';
import { checkLocalSpeech, type LocalSpeechStatus } from '../providers/local-speech-check.js';
import type { BotConfig } from './config-schema.js';

export type Capability = 'recognizer' | 'voice' | 'llm' | 'embedder';

export interface BotWarning {
  capability: Capability;
  message: string;
  fix: string;
}

type Keys = Pick<Config, 'DEEPGRAM_API_KEY' | 'OPENAI_API_KEY' | 'ANTHROPIC_API_KEY' | 'CARTESIA_API_KEY'> &
  Partial<Pick<Config, 'DEFAULT_STT' | 'DEFAULT_LLM' | 'DEFAULT_TTS'>>;
/** The server settings that decide which provider a bot's unset choice means. */
export type ServerProviders = Keys;

/** The TTS a bot asks for: its own choice, else the server's default (as the provider registry picks it). */
export const wantedTts = (choice: NonNullable<BotConfig['providers']>, config: Partial<Keys>): string =>
  choice.tts ?? config.DEFAULT_TTS ?? (config.CARTESIA_API_KEY ? 'cartesia' : 'local');

let speech: Promise<LocalSpeechStatus> | null = null;
/** The local speech parts on this machine (checked once per process). */
export function localSpeechStatus(): Promise<LocalSpeechStatus> {
  speech ??= checkLocalSpeech({ checkVad: false });
  return speech;
}

const LANGUAGE_NAME = { en: 'English', ru: 'Russian' } as const;

export function botWarnings(bot: { language: 'en' | 'ru'; config: BotConfig }, config: Keys, local: LocalSpeechStatus | null): BotWarning[] {
  const out: BotWarning[] = [];
  const choice = bot.config.providers ?? {};
  const lang = LANGUAGE_NAME[bot.language];

  const stt = choice.stt ?? config.DEFAULT_STT ?? (config.DEEPGRAM_API_KEY ? 'deepgram' : 'local');
  if (stt !== 'deepgram' || !config.DEEPGRAM_API_KEY) {
    if (bot.language !== 'en') {
      out.push({
        capability: 'recognizer',
        message: `No speech recognizer for ${lang}: the local recognizer is English only. Callers can type (web calls) or use the keypad; spoken words get a short notice.`,
        fix: 'Set DEEPGRAM_API_KEY (and providers.stt "deepgram" or leave it unset).',
      });
    } else if (local && !(local.stt.pocketsphinx && local.stt.model)) {
      out.push({
        capability: 'recognizer',
        message: 'The local recognizer (pocketsphinx) is not installed: spoken words cannot be understood.',
        fix: 'sudo apt-get install -y pocketsphinx pocketsphinx-en-us, or set DEEPGRAM_API_KEY.',
      });
    } else {
      out.push({
        capability: 'recognizer',
        message: 'Only the local recognizer: usable on web calls (16 kHz), unreliable on phone audio (8 kHz).',
        fix: 'Set DEEPGRAM_API_KEY for phone calls.',
      });
    }
  }

  const tts = wantedTts(choice, config);
  if (tts !== 'cartesia' || !config.CARTESIA_API_KEY) {
    const have = local ? (bot.language === 'ru' ? local.tts.espeak : local.tts.flite || local.tts.espeak) : true;
    if (!have) {
      out.push({
        capability: 'voice',
        message: `No voice for ${lang}: the local synthesizer (${bot.language === 'ru' ? 'espeak-ng' : 'flite'}) is not installed, so the bot cannot speak.`,
        fix: `sudo apt-get install -y ${bot.language === 'ru' ? 'espeak-ng' : 'flite'}, or set CARTESIA_API_KEY.`,
      });
    }
  }

  const llm = choice.llm ?? config.DEFAULT_LLM ?? (config.OPENAI_API_KEY ? 'openai' : config.ANTHROPIC_API_KEY ? 'anthropic' : 'local');
  const llmOk = (llm === 'openai' && config.OPENAI_API_KEY) || (llm === 'anthropic' && config.ANTHROPIC_API_KEY);
  if (!llmOk) {
    out.push({
      capability: 'llm',
      message: 'No LLM: the offline scenario engine answers — bookings, cancellations, short answers from the documents and callback requests, but no free conversation.',
      fix: 'Set OPENAI_API_KEY or ANTHROPIC_API_KEY (and providers.llm, or leave it unset).',
    });
  }

  if (!config.OPENAI_API_KEY) {
    out.push({
      capability: 'embedder',
      message: 'Knowledge search uses the local lexical embedder: it matches words and spellings, not synonyms.',
      fix: 'Set OPENAI_API_KEY for semantic search (documents are re-embedded on upload).',
    });
  }
  return out;
}

/** Logs each active bot's warnings once (at start). Never throws. */
export async function logBotWarnings(sql: RootSql, config: Keys, log: Logger): Promise<void> {
  try {
    const local = await localSpeechStatus();
    const bots = await sql`select id, company_id, name, language, config from bots where is_active order by created_at`;
    for (const b of bots) {
      const warnings = botWarnings({ language: b.language as 'en' | 'ru', config: b.config as BotConfig }, config, local);
      if (warnings.length) {
        log.warn({ botId: b.id, companyId: b.company_id, warnings }, `bot "${String(b.name)}" lacks: ${warnings.map((w) => `${w.capability} (${w.fix})`).join('; ')}`);
      }
    }
  } catch (err) {
    log.warn({ err: String(err) }, 'checking bot capabilities failed');
  }
}
