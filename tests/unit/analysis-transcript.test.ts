import { describe, expect, it } from 'vitest';
import { resolveOutcomeConfig } from '../../src/outcomes/defaults.js';
import { renderTranscript } from '../../src/outcomes/prompt.js';
import type { AnalysisInput } from '../../src/outcomes/types.js';

function input(turns: number): AnalysisInput {
  const transcript = Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'bot' : 'caller', text: `turn ${i} `.padEnd(200, 'x') }));
  return { language: 'en', transcript, bookingMade: false, callerNumber: null, outcomes: resolveOutcomeConfig(undefined) };
}

describe('the transcript an analysis sends', () => {
  it('is every turn, one line each, while it fits', () => {
    const text = renderTranscript(input(10), 100_000);
    expect(text.split('\n')).toHaveLength(10);
    expect(text.split('\n')[3]).toMatch(/^bot: turn 3 x+$/);
  });

  it('keeps the start and the end of a long call whole, turn by turn, and says what it left out', () => {
    const maxChars = 20_000;
    const turns = 1200; // ~250 KB: a four-hour call
    const lines = renderTranscript(input(turns), maxChars).split('\n');
    expect(lines.join('\n').length).toBeLessThanOrEqual(maxChars + 200);
    const gap = lines.findIndex((l) => l.startsWith('[…'));
    expect(gap).toBeGreaterThan(0);
    // The first turns, in order, up to the gap; the last turns, in order, after it.
    for (let i = 0; i < gap; i++) expect(lines[i]).toMatch(new RegExp(`^(caller|bot): turn ${i} `));
    const after = lines.length - gap - 1;
    for (let k = 0; k < after; k++) expect(lines[gap + 1 + k]).toMatch(new RegExp(`^(caller|bot): turn ${turns - after + k} `));
    const all = renderTranscript(input(turns), Infinity).split('\n');
    const leftOut = all.slice(gap, turns - after);
    expect(lines[gap]).toBe(`[… ${leftOut.length} turns (${leftOut.join('\n').length + 1} characters) of this long call left out …]`);
    // A third of the budget for the start, the rest for the end.
    expect(gap).toBeGreaterThan(20);
    expect(after).toBeGreaterThan(2 * gap - 5);
  });

  it('keeps the start and the end when the first and the last turns are very long, and stays within the budget', () => {
    const base = input(602);
    base.transcript[0]!.text = 'a'.repeat(40_000);
    base.transcript[601]!.text = 'z'.repeat(70_000);
    const text = renderTranscript(base, 100_000);
    expect(text.length).toBeLessThanOrEqual(100_000);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^caller: a+…$/);
    expect(lines.at(-1)).toMatch(/^bot: z+…$/);
    expect(lines.some((l) => l.startsWith('[…'))).toBe(true);
  });

  it('sends a transcript exactly at the budget whole', () => {
    const whole = renderTranscript(input(10), Infinity);
    expect(renderTranscript(input(10), whole.length)).toBe(whole);
  });
});

