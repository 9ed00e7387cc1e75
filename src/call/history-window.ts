/**
 * How much of a call's history the LLM is sent each turn. A bot may talk for hours (`maxCallSec` up to 4 h);
 * sending every message every turn makes each prompt, its price and the wait for the first token grow with the
 * call. The window keeps the newest exchanges within `maxChars` (message text, tool calls and their results):
 *
 *  - It starts only at a caller's message, so an answer never arrives without its question and a tool result
 *    never without the call that asked for it.
 *  - When the history outgrows `maxChars`, the oldest exchanges are dropped down to half of it, and the start
 *    then stays put until the history outgrows `maxChars` again: the messages at the front stay the same for many
 *    turns, so the providers' prompt caches (OpenAI's prefix cache, Anthropic's) keep serving them.
 *  - The latest caller message is always sent, however long it is.
 *
 * What falls out of the window is forgotten by the LLM only: the stored transcript keeps every turn.
 */
import type { ChatMessage } from '../providers/types.js';

export class HistoryWindow {
  /** Index of the first message sent; only moves forward. */
  private start = 0;

  constructor(private readonly maxChars: number) {}

  /** The messages to send, the newest within the budget. `history` is the call's whole history. */
  of(history: ChatMessage[]): ChatMessage[] {
    let size = 0;
    for (let i = this.start; i < history.length; i++) size += sizeOf(history[i]!);
    if (size > this.maxChars) this.slide(history, size);
    return this.start === 0 ? history : history.slice(this.start);
  }

  /** Moves the start to the first caller message from which the rest fits in half the budget. */
  private slide(history: readonly ChatMessage[], size: number): void {
    let lastUser = -1;
    for (let i = history.length - 1; i >= this.start; i--) {
      if (history[i]!.role === 'user') {
        lastUser = i;
        break;
      }
    }
    if (lastUser <= this.start) return;
    const target = this.maxChars / 2;
    for (let i = this.start; i < lastUser; i++) {
      size -= sizeOf(history[i]!);
      if (history[i + 1]!.role === 'user' && size <= target) {
        this.start = i + 1;
        return;
      }
    }
    this.start = lastUser;
  }
}

/** A message's share of the prompt, in characters: its text, and its tool calls' names and arguments. */
function sizeOf(m: ChatMessage): number {
  let n = m.content.length;
  if (m.role === 'assistant' && m.toolCalls) for (const c of m.toolCalls) n += c.name.length + JSON.stringify(c.arguments).length;
  else if (m.role === 'tool') n += m.name.length;
  return n;
}
