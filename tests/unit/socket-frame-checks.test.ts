/**
 * Text frames both call sockets drop before parsing: larger than any message, not UTF-8, or nested deeper than any
 * message (JSON.parse of 64 KB of brackets took 1.2 ms of the event loop; a flood of them stalled every call).
 */
import { describe, expect, it } from 'vitest';
import { MAX_TEXT_FRAME_DEPTH, nestsDeeperThan, textFrameProblem } from '../../src/telephony/socket-frames.js';

const bytes = (s: string) => Buffer.from(s);

describe('text frame checks', () => {
  it('passes the messages the sockets take', () => {
    const twilioStart = { event: 'start', start: { streamSid: 'MZ1', callSid: 'CA1', tracks: ['inbound'], customParameters: { token: 'x' }, mediaFormat: { encoding: 'audio/x-mulaw' } } };
    for (const m of [twilioStart, { type: 'text', text: '[{' + 'é'.repeat(1990) + '}]' }, { type: 'mark-played', name: 'm1' }]) {
      expect(textFrameProblem(bytes(JSON.stringify(m)))).toBeNull();
    }
  });

  it('drops deep nesting, counting only brackets outside strings, and frames larger than any message', () => {
    expect(textFrameProblem(bytes('['.repeat(9_000)))).toBe('text frame nested too deep');
    expect(textFrameProblem(bytes(`${'{"a":'.repeat(MAX_TEXT_FRAME_DEPTH + 1)}1${'}'.repeat(MAX_TEXT_FRAME_DEPTH + 1)}`))).toBe('text frame nested too deep');
    expect(nestsDeeperThan(bytes(JSON.stringify({ text: '[[[[[[[[[[[[\\"[[[[[' })), MAX_TEXT_FRAME_DEPTH)).toBe(false);
    expect(textFrameProblem(bytes(JSON.stringify({ type: 'text', text: 'x'.repeat(17_000) })))).toBe('oversized text frame');
  });
});
