import { describe, expect, it } from 'vitest';
import { argumentsProblem, ToolRegistry } from '../../src/call/tool-registry.js';
import { bookingTools } from '../../src/bookings/tools.js';
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
    expect((await r.call('broken', {}, ctx(), c, signal)).content).toMatchObject({ error: 'tool_failed' });
  });

  it('checks the whole schema before the tool runs: lengths, enums, patterns, ranges, unknown fields', async () => {
    let runs = 0;
    const book: Tool = {
      spec: {
        name: 'book', description: 'x',
        parameters: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            task: { type: 'string', enum: ['book', 'cancel'] },
            day: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            people: { type: 'integer', minimum: 1, maximum: 20 },
          },
          required: ['name'],
          additionalProperties: false,
        },
      },
      run: async () => {
        runs++;
        return { content: { ok: true } };
      },
    };
    const r = new ToolRegistry([book]);
    const { c } = control();
    const problem = async (args: unknown) => (await r.call('book', args, ctx(), c, signal)).content as { error?: string; message?: string };
    expect(await problem({ name: 'x'.repeat(201) })).toMatchObject({ error: 'invalid_arguments', message: expect.stringMatching(/name.*200/) });
    expect(await problem({ name: '' })).toMatchObject({ error: 'invalid_arguments' });
    expect(await problem({ name: 'Ann', task: 'delete everything' })).toMatchObject({ error: 'invalid_arguments', message: expect.stringMatching(/task/) });
    expect(await problem({ name: 'Ann', day: 'tomorrow' })).toMatchObject({ error: 'invalid_arguments', message: expect.stringMatching(/day/) });
    expect(await problem({ name: 'Ann', people: 500 })).toMatchObject({ error: 'invalid_arguments', message: expect.stringMatching(/people/) });
    expect(await problem({ name: 'Ann', admin: true })).toMatchObject({ error: 'invalid_arguments', message: expect.stringMatching(/additional/) });
    expect(runs).toBe(0);
    // An optional argument sent as null counts as left out; a required one as null is missing.
    expect(await problem({ name: 'Ann', task: null, people: 2 })).toEqual({ ok: true });
    expect(await problem({ name: null })).toMatchObject({ error: 'invalid_arguments', message: 'missing argument: name' });
    expect(runs).toBe(1);
  });

  it('lets a phone number said in words through to the booking tools, which read it; a sentence bounds it, not the digits limit', () => {
    // Specs only: the tools are never run here.
    const specs = new Map(bookingTools({ db: {} as never, service: {} as never, holdSec: 300 }).map((t) => [t.spec.name, t.spec]));
    const en = 'five five five, two one two, four four three nine'; // 49 characters
    const ru = 'восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь'; // 72
    const calls: Array<[string, Record<string, unknown>]> = [
      ['booking_flow', { task: 'book', phone: en }],
      ['booking_flow', { task: 'book', phone: ru }],
      ['book_appointment', { service: 'Haircut', when: 'tomorrow at 3 pm', customer_name: 'Ann Lee', customer_phone: en }],
      ['find_my_booking', { customer_phone: ru, customer_name: 'Анна Ли' }],
      ['cancel_booking', { customer_phone: en, customer_name: 'Ann Lee' }],
      ['reschedule_booking', { customer_phone: en, customer_name: 'Ann Lee', when: 'Friday at a quarter to eleven in the morning' }],
      ['check_availability', { customer_phone: en, customer_name: 'Ann Lee', when: 'tomorrow afternoon' }],
    ];
    for (const [name, args] of calls) expect(argumentsProblem(specs.get(name)!.parameters, args), name).toBeNull();
    // The reason for a cancellation in the caller's words is cut to fit when stored, not refused.
    expect(argumentsProblem(specs.get('cancel_booking')!.parameters, { reason: 'because '.repeat(80) })).toBeNull();
    // Still bounded: more than a sentence is no phone number.
    expect(argumentsProblem(specs.get('booking_flow')!.parameters, { phone: 'five '.repeat(41) })).toMatch(/phone.*200/);
  });

  it("tells the model a tool failed without the exception's text, which goes to the call's log", async () => {
    const failures: Array<[string, string]> = [];
    const leaky: Tool = {
      spec: { name: 'leaky', description: 'x', parameters: { type: 'object', properties: {} } },
      run: async () => {
        throw new Error('connect ECONNREFUSED 10.0.0.5:5432 (postgres://parley:secret@db)');
      },
    };
    const r = new ToolRegistry([leaky], { onFailure: (tool, err) => failures.push([tool, String(err)]) });
    const content = (await r.call('leaky', {}, ctx(), control().c, signal)).content as { error: string; message: string };
    expect(content.error).toBe('tool_failed');
    expect(content.message).not.toMatch(/ECONNREFUSED|secret|5432/);
    expect(failures).toEqual([['leaky', expect.stringContaining('ECONNREFUSED')]]);
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
