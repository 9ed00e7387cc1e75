import { describe, expect, it } from 'vitest';
import { HistoryWindow } from '../../src/call/history-window.js';
import type { ChatMessage } from '../../src/providers/types.js';

/** One exchange: the caller's words (`n` of 100 characters each side), optionally with a tool round. */
function exchange(i: number, withTool = false): ChatMessage[] {
  const user: ChatMessage = { role: 'user', content: `q${i}`.padEnd(100, '.') };
  if (!withTool) return [user, { role: 'assistant', content: `a${i}`.padEnd(100, '.') }];
  return [
    user,
    { role: 'assistant', content: '', toolCalls: [{ id: `c${i}`, name: 'check', arguments: { day: 'monday' } }] },
    { role: 'tool', toolCallId: `c${i}`, name: 'check', content: JSON.stringify({ free: ['9:00', '10:00'] }) },
    { role: 'assistant', content: `a${i}`.padEnd(100, '.') },
  ];
}

function size(ms: ChatMessage[]): number {
  return ms.reduce((n, m) => n + m.content.length + (m.role === 'assistant' && m.toolCalls ? m.toolCalls.reduce((k, c) => k + c.name.length + JSON.stringify(c.arguments).length, 0) : 0) + (m.role === 'tool' ? m.name.length : 0), 0);
}

describe('HistoryWindow', () => {
  it('sends the whole history while it fits', () => {
    const w = new HistoryWindow(2000);
    const history = [...exchange(1), ...exchange(2), { role: 'user', content: 'and on Monday?' } as ChatMessage];
    expect(w.of(history)).toBe(history);
  });

  it('drops the oldest exchanges whole, down to half the budget, and starts at a caller message', () => {
    const w = new HistoryWindow(2000);
    const history: ChatMessage[] = [];
    for (let i = 0; i < 12; i++) history.push(...exchange(i, i % 3 === 0));
    history.push({ role: 'user', content: 'last question' });
    expect(size(history)).toBeGreaterThan(2000);
    const sent = w.of(history);
    expect(sent[0]!.role).toBe('user');
    expect(size(sent)).toBeLessThanOrEqual(1000);
    expect(sent.at(-1)).toBe(history.at(-1));
    // The newest messages, in order, with nothing skipped between them.
    expect(sent).toEqual(history.slice(history.length - sent.length));
    // As much as half the budget allows: one more exchange would not fit.
    const start = history.length - sent.length;
    const prev = history.slice(0, start).map((m, i) => (m.role === 'user' ? i : -1)).filter((i) => i >= 0).at(-1)!;
    expect(size(history.slice(prev))).toBeGreaterThan(1000);
  });

  it('never separates a tool result from its call', () => {
    for (let budget = 2000; budget <= 3000; budget += 37) {
      const w = new HistoryWindow(budget);
      const history: ChatMessage[] = [];
      for (let i = 0; i < 40; i++) {
        history.push(...exchange(i, true));
        const sent = w.of(history);
        expect(sent[0]!.role).toBe('user');
        const callIds = new Set(sent.flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []).map((c) => c.id) : [])));
        for (const m of sent) if (m.role === 'tool') expect(callIds.has(m.toolCallId)).toBe(true);
        expect(size(sent)).toBeLessThanOrEqual(budget);
      }
    }
  });

  it('keeps the same first message for many turns after a cut (prompt caches keep their prefix)', () => {
    const w = new HistoryWindow(4000);
    const history: ChatMessage[] = [];
    const firsts: ChatMessage[] = [];
    for (let i = 0; i < 100; i++) {
      history.push(...exchange(i));
      firsts.push(w.of(history)[0]!);
    }
    // 200 characters an exchange: a cut to ≤ 2,000 leaves room for ~10 exchanges before the next one.
    const cuts = firsts.filter((m, i) => i > 0 && m !== firsts[i - 1]).length;
    expect(cuts).toBeGreaterThanOrEqual(8);
    expect(cuts).toBeLessThanOrEqual(100 / 9);
  });

  it('always sends the latest caller message, however long', () => {
    const w = new HistoryWindow(2000);
    const long: ChatMessage = { role: 'user', content: 'x'.repeat(5000) };
    const history = [...exchange(1), ...exchange(2), long];
    expect(w.of(history)).toEqual([long]);
  });
});
