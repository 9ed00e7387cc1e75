import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { SttConnection } from '../../src/call/stt-connection.js';
import { systemClock } from '../../src/call/types.js';
import type { SttEvent, SttProvider } from '../../src/providers/types.js';

/** The call's recognizer connection over `provider` (Twilio audio, real clock), its events collected; stop() ends it. */
export function runSttConnection(provider: SttProvider): { conn: SttConnection; events: SttEvent[]; stop: () => Promise<void> } {
  const events: SttEvent[] = [];
  const abort = new AbortController();
  const conn = new SttConnection({
    provider,
    open: { format: TWILIO_FORMAT, language: 'en' },
    signal: abort.signal,
    clock: systemClock,
    onEvent: (ev) => events.push(ev),
    onFailure: () => {},
    onGiveUp: () => {},
  });
  const running = conn.run();
  return {
    conn,
    events,
    stop: async () => {
      abort.abort();
      await conn.close();
      await running;
    },
  };
}
