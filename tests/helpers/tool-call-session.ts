/**
 * A whole CallSession over scripted providers and the given tools, for tests of tools during a call (fake time:
 * the test advances it).
 */
import { vi } from 'vitest';
import type { Tool } from '../../src/call/tool-types.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { ScriptedLlm, type ScriptedReply } from './scripted-providers.js';
import { testCallSession } from './test-call-session.js';

export function toolCallSession(reply: (request: LlmRequest, index: number) => ScriptedReply, tools: Tool[]) {
  const { stt, llm, recorder, session } = testCallSession({
    llm: new ScriptedLlm(reply),
    tools,
    config: { greeting: 'Hello, how can I help?', systemPrompt: 'Be brief.' },
    limits: { silenceRepromptSec: 120, silenceHangupSec: 600 },
  });
  void session.start();
  return { stt, llm, recorder, session, advance: (ms: number) => vi.advanceTimersByTimeAsync(ms) };
}
