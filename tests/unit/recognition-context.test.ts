/**
 * What the bot just asked, per call: the context the guided flow sets and the recognizer reads, the registry by
 * call id, the provider wrapper that hands the context to every session a call opens, and which question expects
 * which kind of answer.
 */
import { describe, expect, it } from 'vitest';
import { expectedAnswer } from '../../src/bookings/flow/tool.js';
import { RecognitionContext, withExpectedInput } from '../../src/providers/stt/recognition-context.js';
import type { SttProvider, SttSession, SttSessionOptions } from '../../src/providers/types.js';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';

describe('RecognitionContext', () => {
  it('holds the expected answer until it is replaced or cleared', () => {
    const c = new RecognitionContext();
    expect(c.current()).toBeNull();
    c.expect('name');
    expect(c.current()).toBe('name');
    c.expect('phone');
    expect(c.current()).toBe('phone');
    c.expect(null);
    expect(c.current()).toBeNull();
  });

  it('hands the context to every session the wrapped provider opens (reconnects too)', async () => {
    const seen: SttSessionOptions[] = [];
    const provider: SttProvider = {
      name: 'fake',
      open: async (options) => {
        seen.push(options);
        return {} as SttSession;
      },
    };
    const context = new RecognitionContext();
    const wrapped = withExpectedInput(provider, context);
    expect(wrapped.name).toBe('fake');
    const options = { format: WIDEBAND_FORMAT, language: 'en' as const, keyterms: ['Tap repair'], signal: new AbortController().signal };
    await wrapped.open(options);
    await wrapped.open(options);
    expect(seen).toHaveLength(2);
    expect(seen.every((o) => o.expected === context && o.keyterms?.[0] === 'Tap repair')).toBe(true);
    context.expect('yesno');
    expect(seen[1]!.expected!.current()).toBe('yesno');
  });
});

describe('expectedAnswer: what each question of the guided flow expects', () => {
  const collect = { stage: 'collect' as const, nameTries: 0 };
  it('maps questions to answers, open questions and a finished flow to nothing', () => {
    expect(expectedAnswer({ ...collect, asked: 'name' })).toBe('name');
    expect(expectedAnswer({ ...collect, asked: 'name', nameTries: 1 })).toBe('spelling');
    expect(expectedAnswer({ ...collect, asked: 'name_check' })).toBe('yesno');
    expect(expectedAnswer({ stage: 'confirm', nameTries: 0, asked: 'confirm' })).toBe('yesno');
    expect(expectedAnswer({ ...collect, asked: 'phone' })).toBe('phone');
    expect(expectedAnswer({ ...collect, asked: 'time' })).toBe('datetime');
    expect(expectedAnswer({ ...collect, asked: 'pick' })).toBe('datetime');
    for (const asked of ['task', 'service', 'which', 'change', null] as const) expect(expectedAnswer({ ...collect, asked })).toBeNull();
    expect(expectedAnswer({ stage: 'done', nameTries: 0, asked: 'phone' })).toBeNull();
  });
});
