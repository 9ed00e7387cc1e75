import { describe, expect, it } from 'vitest';
import { checkLocalSpeech } from '../../src/providers/local-speech-check.js';

describe('checkLocalSpeech', () => {
  it('finds the Debian packages this machine has installed', async () => {
    const status = await checkLocalSpeech();
    expect(status).toEqual({
      tts: { flite: true, espeak: true },
      stt: { pocketsphinx: true, model: true },
      vad: { silero: true },
      missing: [],
      installCommand: null,
    });
  });

  it('names each missing package and the apt-get line', async () => {
    const status = await checkLocalSpeech({ searchPath: '/nonexistent', modelDir: '/nonexistent/en-us', checkVad: false });
    expect(status.tts).toEqual({ flite: false, espeak: false });
    expect(status.stt).toEqual({ pocketsphinx: false, model: false });
    expect(status.missing).toEqual(['flite', 'espeak-ng', 'pocketsphinx', 'pocketsphinx-en-us']);
    expect(status.installCommand).toBe('apt-get install -y flite espeak-ng pocketsphinx pocketsphinx-en-us');
  });
});
