/**
 * A voicemail's rendering answers within its deadline whatever the TTS does: the Twilio request waiting for it
 * must get its TwiML (the <Say> fallback) in time, also when the provider never opens or never sends audio and
 * ignores the abort.
 */
import { describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { renderSpeechWav } from '../../src/campaigns/voicemail-audio.js';
import { ScriptedTts } from '../helpers/scripted-providers.js';

const request = { text: 'Hi Ann. Call us back.', language: 'en' as const };
const limits = { timeoutMs: 150, maxBytes: 1 << 20 };

async function settleTime(work: Promise<unknown>): Promise<{ ms: number; error: string | null }> {
  const started = Date.now();
  const error = await work.then(() => null, (err: unknown) => (err instanceof Error ? err.message : String(err)));
  return { ms: Date.now() - started, error };
}

describe('voicemail rendering deadline', () => {
  it('renders a WAV when the TTS answers', async () => {
    const tts = new ScriptedTts({ firstAudioMs: 1, chunkMs: 0, bytesPerWord: 800 });
    const wav = readWav(Buffer.from(await renderSpeechWav(tts, request, limits)));
    expect(wav.sampleRate).toBe(8000);
    expect(tts.texts).toEqual(['Hi Ann.', 'Call us back.']);
  });

  it('fails at the deadline when the TTS never opens a session', async () => {
    const tts = new ScriptedTts();
    tts.hangOpens = 1;
    const { ms, error } = await settleTime(renderSpeechWav(tts, request, limits));
    expect(error).toBe('voicemail rendering took over 150 ms');
    expect(ms).toBeLessThan(5_000);
  });

  it('fails at the deadline when the audio never comes and the provider ignores the abort; the turn is cancelled', async () => {
    const tts = new ScriptedTts();
    tts.hangTurns = 1;
    const { ms, error } = await settleTime(renderSpeechWav(tts, request, limits));
    expect(error).toBe('voicemail rendering took over 150 ms');
    expect(ms).toBeLessThan(5_000);
    expect(tts.cancels).toBe(1);
  });
});
