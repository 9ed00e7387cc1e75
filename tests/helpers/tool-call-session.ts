/**
 * A whole CallSession over scripted providers and the given tools, for tests of tools during a call (fake time:
 * the test advances it).
 */
import { vi } from 'vitest';
import { DEFAULT_LIMITS, type BotConfig } from '../../src/bots/config-schema.js';
import { CallSession } from '../../src/call/call-session.js';
import { MemoryCallRecorder } from '../../src/call/recorder.js';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { Tool } from '../../src/call/tool-types.js';
import { silentLogger } from '../../src/call/types.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { MemoryTransport } from './memory-transport.js';
import { ScriptedLlm, ScriptedStt, ScriptedTts, type ScriptedReply } from './scripted-providers.js';

export function toolCallSession(reply: (request: LlmRequest, index: number) => ScriptedReply, tools: Tool[]) {
  const transport = new MemoryTransport();
  const stt = new ScriptedStt();
  const llm = new ScriptedLlm(reply);
  const recorder = new MemoryCallRecorder();
  const config: BotConfig = { greeting: 'Hello, how can I help?', systemPrompt: 'Be brief.' };
  const session = new CallSession({
    transport, stt, llm, tts: new ScriptedTts(), tools: new ToolRegistry(tools), recorder,
    context: { callId: 'c', botId: 'b', companyId: 'co', callerNumber: null, bot: { id: 'b', name: 'B', language: 'en', config } },
    limits: { ...DEFAULT_LIMITS, silenceRepromptSec: 120, silenceHangupSec: 600 },
    systemPrompt: config.systemPrompt, language: 'en', log: silentLogger, callerVoice: null,
  });
  void session.start();
  return { stt, llm, recorder, session, advance: (ms: number) => vi.advanceTimersByTimeAsync(ms) };
}
