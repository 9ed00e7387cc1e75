/**
 * The recognizer of a bot whose language has none available (a Russian bot without DEEPGRAM_API_KEY: the local
 * pocketsphinx model is English only). Instead of failing the call before its greeting, it opens and listens for
 * energy only: the greeting plays, typed text and keypad digits work, and the first stretch of speech becomes one
 * `final` with the marker NO_RECOGNIZER_TEXT, which the agent answers with one polite spoken notice ("please type
 * or use the keypad"). Later speech is ignored.
 */
import { rms } from '../../audio/energy.js';
import { mulawDecode } from '../../audio/mulaw.js';
import type { Language, SttEvent, SttProvider, SttSession, SttSessionOptions } from '../types.js';
import { AsyncQueue } from '../../util/async-queue.js';
import { pcm16FromBytes } from '../../audio/pcm.js';

export const NO_RECOGNIZER_TEXT = '[speech: no recognizer for this language]';

/** RMS level (full scale = 1) above which a frame counts as voiced; about -36 dBFS. */
const VOICED_RMS = 0.016;
/** Voiced time that makes an utterance, and the quiet after it that ends it. */
const SPEECH_MS = 300;
const QUIET_MS = 700;

export class NoRecognizerStt implements SttProvider {
  readonly name = 'none';

  constructor(readonly language: Language) {}

  async open(options: SttSessionOptions): Promise<SttSession> {
    const queue = new AsyncQueue<SttEvent>();
    const mulaw = options.format.encoding === 'mulaw';
    const bytesPerMs = (options.format.sampleRate / 1000) * (mulaw ? 1 : 2);
    let voicedMs = 0;
    let quietMs = 0;
    let noticed = false;
    let closed = false;
    const started = Date.now();
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      queue.close();
    };
    options.signal.addEventListener('abort', () => void close(), { once: true });
    return {
      pushAudio(frame) {
        if (noticed || closed) return;
        const ms = frame.length / bytesPerMs;
        const samples = mulaw ? mulawDecode(frame) : pcm16FromBytes(frame);
        if (rms(samples) >= VOICED_RMS) {
          if (voicedMs === 0) queue.push({ type: 'speech_started', atMs: Date.now() - started });
          voicedMs += ms;
          quietMs = 0;
        } else if (voicedMs > 0) {
          quietMs += ms;
          if (quietMs >= QUIET_MS) {
            if (voicedMs >= SPEECH_MS) {
              noticed = true;
              queue.push({ type: 'final', text: NO_RECOGNIZER_TEXT, endOfUtterance: true });
            } else queue.push({ type: 'utterance_end' });
            voicedMs = 0;
            quietMs = 0;
          }
        }
      },
      finalize() {},
      events: queue,
      close,
    };
  }
}
