/** Speaks `speech` (16 kHz PCM, padded with silence) into an STT session in 20 ms frames, then asks for its final. */
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import type { SttEvent, SttSession } from '../../src/providers/types.js';

export async function speakInto(stt: SttSession, speech: Int16Array): Promise<void> {
  const padded = new Int16Array(speech.length + 32_000);
  padded.set(speech, 8000);
  const bytes = pcm16ToBytes(padded);
  for (let i = 0; i < bytes.length; i += 640) {
    stt.pushAudio(bytes.subarray(i, i + 640));
    // Let the session handle each 20 ms frame as a live call would.
    await new Promise((resolve) => setImmediate(resolve));
  }
  stt.finalize();
}

/** speakInto, then the session's final (an error or the session's end throws). */
export async function finalOfUtterance(stt: SttSession, events: AsyncIterator<SttEvent>, speech: Int16Array): Promise<string> {
  await speakInto(stt, speech);
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error('the session ended before a final');
    if (value.type === 'final') return value.text;
    if (value.type === 'error') throw value.error;
  }
}
