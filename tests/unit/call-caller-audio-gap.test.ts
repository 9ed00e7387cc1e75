/**
 * A caller whose audio stops arriving mid-turn (a web client that sends only while its microphone is open, a
 * muted page): the line is silent, so the turn closes and the question is answered. Before, the VAD never heard
 * the speech end (it hears only the audio it gets), the recognizer's final was held back while "in speech", and
 * the call sat listening until its time limit — no answer, no re-prompt. Real energy VAD, real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GAP_MS } from '../../src/call/caller-input.js';
import { CallSession } from '../../src/call/call-session.js';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { ScriptedLlm, ScriptedTts } from '../helpers/scripted-providers.js';
import { testCallSession } from '../helpers/test-call-session.js';

/** 20 ms of a loud 200 Hz tone, μ-law 8 kHz: speech to an energy VAD. */
function toneFrame(n: number): Uint8Array {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 200 * (n * 160 + i)) / 8000));
  return mulawEncode(pcm);
}
const silence = new Uint8Array(160).fill(0xff);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let session: CallSession | null = null;
afterEach(async () => {
  await session?.end('server_shutdown', { immediate: true });
  session = null;
});

function call() {
  // The default caller VAD (the energy VAD): this test is about what it makes of a gap.
  const call = testCallSession({ llm: new ScriptedLlm(() => 'We close at six.'), tts: new ScriptedTts({ firstAudioMs: 1, chunkMs: 0 }), session: { callerVoice: undefined } });
  const { transport, stt, llm, recorder } = call;
  session = call.session;
  const done = session.start();
  return { transport, stt, llm, recorder, done };
}

describe('a gap in the caller\'s audio is silence', () => {
  it('a question whose audio simply stops is answered', async () => {
    const { transport, stt, llm } = call();
    await sleep(300); // the greeting plays; the line is quiet
    for (let i = 0; i < 25; i++) transport.audio(silence);
    // 1.2 s of speech, sent as it is spoken, then nothing more from the client.
    for (let i = 0; i < 60; i++) {
      transport.audio(toneFrame(i));
      if (i % 5 === 4) await sleep(100);
    }
    stt.emit({ type: 'speech_started', atMs: 0 });
    stt.emit({ type: 'final', text: 'What time do you close today?', endOfUtterance: true });
    // Found silent after GAP_MS, then the VAD's end of speech: about a second (waited for up to three).
    for (let i = 0; i < (GAP_MS + 2500) / 50 && llm.requests.length === 0; i++) await sleep(50);
    expect(llm.requests.length, 'the question was never answered').toBe(1);
  });
});
