/**
 * Speech the recognizer could not make out (a local decode that failed twice: `unheard`): the caller is asked to
 * say it again rather than left in silence, and the call's log and provider-failure metric record it. Fake time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SESSION_PHRASES } from '../../src/call/session-phrases.js';
import type { SttEvent } from '../../src/providers/types.js';
import { saySentence, ScriptedLlm } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

const GREETING = 'Hello, this is Acme Dental.';
const ANSWER = 'We open at nine.';
const NOT_CAUGHT = SESSION_PHRASES.en.notCaught;

function harness() {
  const warnings: string[] = [];
  const failures: Array<[string, boolean]> = [];
  const { stt, recorder, session } = testCallSession({
    llm: new ScriptedLlm(() => ANSWER),
    config: { greeting: GREETING },
    context: { botName: 'Acme' },
    session: {
      log: { info() {}, error() {}, warn: (_obj, msg) => void warnings.push(msg) },
      onProviderFailure: (stage, reconnecting) => void failures.push([stage, reconnecting]),
    },
  });
  const done = session.start();
  return {
    stt, session, done, warnings, failures,
    advance: (ms: number) => vi.advanceTimersByTimeAsync(ms),
    texts: () => recorder.turns.map((t) => `${t.role}: ${t.text}`),
  };
}

/** A segmenting recognizer's answer to speech it could not decode. */
const unheard = (): Array<{ afterMs: number; event: SttEvent }> => [
  { afterMs: 0, event: { type: 'speech_started', atMs: 0, segmented: true } },
  { afterMs: 1500, event: { type: 'unheard', error: new Error('pocketsphinx failed: decoder crashed') } },
];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('caller speech the recognizer could not make out', () => {
  it('is answered with a request to say it again, logged and counted; the repeat is answered as usual', async () => {
    const h = harness();
    await h.advance(4000);
    void h.stt.play(unheard());
    // The request is stored once the caller has heard it out.
    await h.advance(10_000);
    expect(h.texts()).toEqual([`bot: ${GREETING}`, `bot: ${NOT_CAUGHT}`]);
    expect(h.warnings).toContain('caller speech not recognised; asking the caller to repeat');
    expect(h.failures).toEqual([['stt', false]]);
    void h.stt.play(saySentence('when do you open'));
    await h.advance(8000);
    expect(h.texts()).toEqual([`bot: ${GREETING}`, `bot: ${NOT_CAUGHT}`, 'caller: when do you open', `bot: ${ANSWER}`]);
    // A turn that already has words closes on them: an unheard segment after them asks nothing.
    void h.stt.play([
      { afterMs: 0, event: { type: 'speech_started', atMs: 0, segmented: true } },
      { afterMs: 800, event: { type: 'final', text: 'and on saturdays', endOfUtterance: true } },
      ...unheard(),
    ]);
    await h.advance(10_000);
    expect(h.texts().slice(4)).toEqual(['caller: and on saturdays', `bot: ${ANSWER}`]);
    await h.session.end('server_shutdown', { immediate: true });
    await h.done;
  });

});
