/**
 * A tool that does not answer (a stalled database or service under it) does not leave the caller in silence: past
 * TOOL_DEADLINE_MS the answer goes on with a timed-out result the model speaks, and the tool's late result fills
 * its place in the history afterwards, marked as not told to the caller (fake time, whole CallSession).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOOL_DEADLINE_MS } from '../../src/call/agent-turn.js';
import type { Tool, ToolResult } from '../../src/call/tool-types.js';
import { saySentence } from '../helpers/scripted-providers.js';
import { toolCallSession } from '../helpers/tool-call-session.js';

const LOOKUP_CALL = { id: 'c1', name: 'check_opening_hours', arguments: {} };

/** A tool that answers only when `finish` is called, as one waiting on a stalled database would. */
function hangingTool() {
  let finish: (() => void) | null = null;
  let runs = 0;
  const tool: Tool = {
    spec: { name: 'check_opening_hours', description: 'Opening hours', parameters: { type: 'object', properties: {} } },
    run: async () => {
      runs++;
      await new Promise<void>((resolve) => (finish = resolve));
      return { content: { hours: '9 to 5' }, say: 'We are open from nine to five.' } satisfies ToolResult;
    },
  };
  return { tool, finish: () => finish?.(), get runs() { return runs; } };
}

const harness = toolCallSession;

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => void vi.useRealTimers());

describe('a tool that does not answer during a call', () => {
  it('is given up at the deadline: the model is told it timed out, the caller hears its answer, and the late result fills its place', async () => {
    const lookup = hangingTool();
    // The model calls the tool again when told it timed out: the turn's tools are out of time, so it is not run.
    const h = harness((_r, i) => (i === 0 ? { toolCalls: [LOOKUP_CALL] } : i === 1 ? { toolCalls: [{ ...LOOKUP_CALL, id: 'c2' }] } : "I'm sorry, I can't look that up right now."), [lookup.tool]);
    await h.advance(4000);
    void h.stt.play(saySentence('when are you open'));
    await h.advance(3000);
    expect(h.llm.requests).toHaveLength(1);
    expect(lookup.runs).toBe(1);

    await h.advance(TOOL_DEADLINE_MS + 3000);
    expect(lookup.runs).toBe(1);
    expect(h.llm.requests).toHaveLength(3);
    const told = h.llm.requests[1]!.messages.at(-1)!;
    expect(told).toMatchObject({ role: 'tool', toolCallId: 'c1' });
    expect(JSON.parse(told.content)).toMatchObject({ error: 'timed_out' });
    expect(JSON.parse(h.llm.requests[2]!.messages.at(-1)!.content)).toMatchObject({ error: 'timed_out' });
    expect(h.recorder.turns.at(-1)).toMatchObject({ role: 'bot', text: "I'm sorry, I can't look that up right now." });

    // The tool answers after all: the next answer knows what it found, and that the caller was not told.
    lookup.finish();
    await h.advance(100);
    void h.stt.play(saySentence('are you there'));
    await h.advance(5000);
    const later = h.llm.requests[3]!.messages.find((m) => m.role === 'tool' && m.toolCallId === 'c1')!;
    expect(JSON.parse(later.content)).toEqual({ hours: '9 to 5', not_yet_told_to_caller: 'We are open from nine to five.' });
    void h.session.end('server_shutdown', { immediate: true });
  });
});
