/** renderSpeechWav's deadline timer is cleared on every way out, including a TTS that cannot be opened. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderSpeechWav } from '../../src/campaigns/voicemail-audio.js';
import type { TtsProvider } from '../../src/providers/types.js';

describe('voicemail rendering timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('leaves no timer behind when the TTS session fails to open', async () => {
    vi.useFakeTimers();
    const tts: TtsProvider = { name: 'down', open: () => Promise.reject(new Error('TTS unreachable')) };
    await expect(renderSpeechWav(tts, { text: 'Hello there.', language: 'en' }, { timeoutMs: 8_000, maxBytes: 1024 })).rejects.toThrow('TTS unreachable');
    expect(vi.getTimerCount()).toBe(0);
  });
});
