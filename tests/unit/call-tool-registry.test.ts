import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../src/call/tool-registry.js';
import type { CallContext, CallControl, Tool } from '../../src/call/tool-types.js';
import { builtInTools } from '../../src/call/tools/index.js';

const ctx = (transferNumber?: string): CallContext => ({
  callId: 'c', botId: 'b', companyId: 'co', callerNumber: null,
  bot: { id: 'b', name: 'Bot', language: 'en', config: { greeting: 'Hi', systemPrompt: '', ...(transferNumber ? { transferNumber } : {}) } },
});
const signal = new AbortController().signal;

function control() {
  const log: string[] = [];
  const c: CallControl = { endCall: (r) => void log.push(`end:${r}`), transferCall: async (to, r) => void log.push(`transfer:${to}:${r}`) };
  return { c, log };
}

const echo: Tool = {
  spec: { name: 'echo', description: 'echo', parameters: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } },
  run: async (args) => ({ content: { n: args.n } }),
};
const broken: Tool = {
  spec: { name: 'broken', description: 'x', parameters: { type: 'object', properties: {} } },
  run: async () => {
    throw new Error('db down');
  },
};

describe('ToolRegistry', () => {
  it('lists specs and calls tools', async () => {
    const r = new ToolRegistry([...builtInTools(), echo]);
    expect(r.specs().map((s) => s.name)).toEqual(['end_call', 'transfer_call', 'callback_details', 'echo']);
    expect(r.has('echo')).toBe(true);
    expect(await r.call('echo', { n: 2 }, ctx(), control().c, signal)).toEqual({ content: { n: 2 } });
  });

  it('turns unknown tools, bad arguments and failures into error results', async () => {
    const r = new ToolRegistry([echo, broken]);
    const { c } = control();
    expect((await r.call('nope', {}, ctx(), c, signal)).content).toMatchObject({ error: 'unknown_tool' });
    expect((await r.call('echo', {}, ctx(), c, signal)).content).toMatchObject({ error: 'invalid_arguments', message: 'missing argument: n' });
    expect((await r.call('echo', { n: 'two' }, ctx(), c, signal)).content).toMatchObject({ error: 'invalid_arguments' });
    expect((await r.call('echo', 'x', ctx(), c, signal)).content).toMatchObject({ error: 'invalid_arguments' });
    expect((await r.call('broken', {}, ctx(), c, signal)).content).toEqual({ error: 'tool_failed', message: 'db down' });
  });

  it('end_call asks the session to end and says goodbye', async () => {
    const { c, log } = control();
    const res = await new ToolRegistry(builtInTools()).call('end_call', { reason: 'done' }, ctx(), c, signal);
    expect(res.say).toBe('Thank you for calling. Goodbye!');
    expect(log).toEqual(['end:done']);
  });

  it('transfer_call uses the configured number, or says there is none', async () => {
    const r = new ToolRegistry(builtInTools());
    const a = control();
    expect(await r.call('transfer_call', { reason: 'billing' }, ctx('+15557654321'), a.c, signal)).toMatchObject({ content: { transferred: true } });
    expect(a.log).toEqual(['transfer:+15557654321:billing']);
    const b = control();
    const res = await r.call('transfer_call', { reason: 'billing' }, ctx(), b.c, signal);
    expect(res.content).toEqual({ transferred: false, error: 'no_transfer_number' });
    expect(b.log).toEqual([]);
  });
});
