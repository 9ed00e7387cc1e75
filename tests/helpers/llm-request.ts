/** What the LLM adapter tests send and read: one request shape with a slot-booking tool, and a stream drained to a list. */
import type { LlmEvent, LlmRequest } from '../../src/providers/types.js';

export const bookSlotTool = {
  name: 'book_slot',
  description: 'Book a slot',
  parameters: { type: 'object', properties: { start: { type: 'string' } }, required: ['start'] },
};

export function llmRequest(overrides: Partial<LlmRequest> = {}): LlmRequest {
  return {
    system: 'You are a receptionist.',
    messages: [{ role: 'user', content: 'Hi' }],
    tools: [],
    signal: new AbortController().signal,
    ...overrides,
  };
}

export async function collectEvents(events: AsyncIterable<LlmEvent>): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}
