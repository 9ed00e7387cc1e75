/**
 * A CallSession for tests of the call loop: the memory transport and recorder, scripted providers unless others are
 * given, a bot named by what the test cares about (greeting, prompt, language, limits, tools), a silent log and no
 * caller VAD unless one is given. Each test keeps its own driving (fake or real time, what the caller says).
 */
import { DEFAULT_LIMITS, type BotConfig, type CallLimits } from '../../src/bots/config-schema.js';
import { CallSession, type CallSessionOptions } from '../../src/call/call-session.js';
import { MemoryCallRecorder } from '../../src/call/recorder.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, Tool } from '../../src/call/tool-types.js';
import { silentLogger } from '../../src/call/types.js';
import type { LlmProvider, SttProvider, TtsProvider } from '../../src/providers/types.js';
import { MemoryTransport } from './memory-transport.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts } from './scripted-providers.js';

export interface TestCallParts<S extends SttProvider, L extends LlmProvider, T extends TtsProvider> {
  stt?: S;
  llm?: L;
  tts?: T;
  tools?: Tool[];
  /** The bot's config; greeting "Hi." and an empty prompt unless given. */
  config?: Partial<BotConfig>;
  language?: 'en' | 'ru';
  limits?: Partial<CallLimits>;
  /** Ids and the caller's number, where a test reads them. */
  context?: Partial<Omit<CallContext, 'bot'>> & { botName?: string };
  /** Any other session option (callerVoice, onProviderFailure, log…). */
  session?: Partial<CallSessionOptions>;
}

export function testCallSession<S extends SttProvider = ScriptedStt, L extends LlmProvider = ScriptedLlm, T extends TtsProvider = ScriptedTts>(
  parts: TestCallParts<S, L, T> = {},
) {
  const transport = new MemoryTransport();
  const stt = parts.stt ?? (new ScriptedStt() as SttProvider as S);
  const llm = parts.llm ?? (new ScriptedLlm(() => 'Sure.') as LlmProvider as L);
  const tts = parts.tts ?? (new ScriptedTts() as TtsProvider as T);
  const recorder = new MemoryCallRecorder();
  const language = parts.language ?? 'en';
  const config: BotConfig = { greeting: 'Hi.', systemPrompt: '', ...parts.config };
  const { botName = 'B', ...ids } = parts.context ?? {};
  const context: CallContext = { callId: 'c', botId: 'b', companyId: 'co', callerNumber: null, ...ids, bot: { id: ids.botId ?? 'b', name: botName, language, config } };
  const session = new CallSession({
    transport, stt, llm, tts, tools: new ToolRegistry(parts.tools ?? []), context, recorder,
    limits: { ...DEFAULT_LIMITS, ...parts.limits },
    systemPrompt: config.systemPrompt,
    language,
    log: silentLogger,
    callerVoice: null,
    ...parts.session,
  });
  return { transport, stt, llm, tts, recorder, session, config };
}
