import type { SttEvent, SttSession } from '../../src/providers/types.js';

/** Reads a recognizer session's events in the background: `events` fills as they come, `done` settles when they end. */
export function readSttEvents(session: SttSession): { events: SttEvent[]; done: Promise<void> } {
  const events: SttEvent[] = [];
  const done = (async () => {
    for await (const e of session.events) events.push(e);
  })();
  return { events, done };
}
