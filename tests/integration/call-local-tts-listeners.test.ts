/**
 * A bot turn speaks phrase by phrase, one TTS turn each, all on the bot turn's AbortSignal. A finished local
 * TTS turn must take its abort listener off that signal: a long answer would otherwise pile listeners on it
 * (Node's MaxListenersExceededWarning past ten) and keep every finished TTS turn reachable until the answer ends.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TWILIO_FORMAT } from '../../src/audio/format.js';
import { LocalTtsProvider } from '../../src/providers/tts/local.js';

describe('local TTS turns and the bot turn signal', () => {
  it('leaves no abort listener behind once a turn has finished or failed', async () => {
    const session = await new LocalTtsProvider().open({ format: TWILIO_FORMAT, language: 'en' });
    const signal = new AbortController().signal;
    for (const text of ['Hello there.', 'We open at nine.']) {
      const turn = session.startTurn(signal);
      turn.pushText(text);
      turn.end();
      for await (const _chunk of turn.audio) void _chunk;
    }
    const cancelled = session.startTurn(signal);
    await cancelled.cancel();
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await session.close();
  });
});
