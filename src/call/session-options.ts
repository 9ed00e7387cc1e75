/** What a CallSession is built from: the transport, the providers, the bot and the turn-taking settings. */
import type { CallLimits } from '../bots/config-schema.js';
import type { PromptPassage } from '../knowledge/retrieve.js';
import type { Language, LlmProvider, SttProvider, TtsProvider } from '../providers/types.js';
import type { CallTransport } from '../telephony/transport.js';
import type { CallerVoiceFactory } from './caller-voice.js';
import type { EndOfTurnModel } from './end-of-turn.js';
import type { CallRecorder } from './recorder.js';
import type { ToolRegistry } from './tool-registry.js';
import type { CallContext } from './tool-types.js';
import type { CallLogger, Clock } from './types.js';

export interface CallSessionOptions {
  transport: CallTransport;
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  tools: ToolRegistry;
  context: CallContext;
  recorder: CallRecorder;
  limits: CallLimits;
  systemPrompt: string;
  language: Language;
  voice?: string | undefined;
  /** Defaults to the bot config's greeting. */
  greeting?: string | undefined;
  /** Knowledge for this turn (passages with their sources and document versions), put into the prompt. */
  retrieveContext?: ((text: string, signal: AbortSignal) => Promise<readonly PromptPassage[] | null>) | undefined;
  log: CallLogger;
  clock?: Clock;
  sttModel?: string | undefined;
  ttsModel?: string | undefined;
  keyterms?: string[] | undefined;
  /**
   * The caller's VAD. Default: the energy VAD (caller-voice.ts), replaced by the recognizer's own where it reports
   * voice activity (the local recognizer's Silero); null = none (the recognizer's events stand in).
   */
  callerVoice?: CallerVoiceFactory | null;
  /** End-of-turn judge. Default: the per-language rules of end-of-turn.ts. */
  endOfTurn?: EndOfTurnModel;
  /** A pause that nothing confirms resumes this long after the caller went quiet. Default 1200 ms. */
  resumeWindowMs?: number;
  /** Audio sent ahead of what the caller has heard. Default 400 ms. */
  maxLeadMs?: number;
  maxToolRounds?: number;
  /**
   * A provider failed (stt, tts: a session failed or would not open; llm: a turn's answer failed); `reconnecting` when
   * one follows; `err` what failed (an account refusal is counted apart). For metrics.
   */
  onProviderFailure?: ((stage: 'stt' | 'llm' | 'tts', reconnecting: boolean, err?: unknown) => void) | undefined;
}
