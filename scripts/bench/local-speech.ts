/**
 * Local speech figures: word error rate of the offline recognizer (Silero VAD + pocketsphinx) on flite speech,
 * on wideband 16 kHz audio and on the Twilio path (μ-law 8 kHz), the delay from the end of the audio to the
 * final transcript when audio arrives in real time, and the CPU cost of the per-frame audio functions.
 *
 *   npx tsx scripts/bench/local-speech.ts            (needs flite and pocketsphinx; about a minute)
 */
import { performance } from 'node:perf_hooks';
import { convertAudio, AudioConverter } from '../../src/audio/convert.js';
import { TWILIO_FORMAT, WIDEBAND_FORMAT, type AudioFormat } from '../../src/audio/format.js';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import { resampleOffline } from '../../src/audio/resample.js';
import { wordErrorRate } from '../../src/audio/wer.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import { synthesize } from '../../src/providers/tts/local-synth.js';
import type { SttEvent } from '../../src/providers/types.js';
import { createVad } from '../../src/providers/vad/create.js';

const SENTENCES = [
  'I would like to book a haircut tomorrow at three pm.',
  'Can you tell me your opening hours on Saturday?',
  'My name is Anna and my phone number is five five five one two three four.',
  'Please cancel my appointment on Friday morning.',
  'How much does a manicure cost?',
  'Yes, that time works for me, thank you.',
];
const VOICES = ['slt', 'rms'];

async function speech(text: string, voice: string): Promise<Int16Array> {
  const { samples, sampleRate } = await synthesize({ engine: 'flite', text, voice, binary: 'flite', timeoutMs: 20_000 }).result;
  return resampleOffline(samples, sampleRate, 16000);
}

function withSilence(samples: Int16Array, beforeMs: number, afterMs: number): Int16Array {
  const out = new Int16Array(samples.length + (beforeMs + afterMs) * 16);
  out.set(samples, beforeMs * 16);
  return out;
}

/**
 * Recognizes one utterance; `realtime` paces 20 ms frames on the wall clock. Returns the text and the delay from
 * the frame where speech ended (`trailingMs` before the end) to the final.
 */
async function recognize(audio16k: Int16Array, format: AudioFormat, realtime: boolean, trailingMs = 1000): Promise<{ text: string; delayMs: number }> {
  const stt = await new LocalSttProvider().open({ format, language: 'en', signal: new AbortController().signal });
  const bytes = convertAudio(pcm16ToBytes(audio16k), WIDEBAND_FORMAT, format);
  const frame = format.encoding === 'mulaw' ? 160 : 640;
  const speechEndByte = bytes.length - (bytes.length / audio16k.length) * trailingMs * 16;
  let speechEndAt = 0;
  const events = (async () => {
    const texts: string[] = [];
    for await (const e of stt.events as AsyncIterable<SttEvent>) {
      if (e.type === 'final') return { text: texts.concat(e.text).join(' '), at: performance.now() };
      if (e.type === 'utterance_end') return { text: '', at: performance.now() };
      if (e.type === 'error') throw e.error;
    }
    return { text: '', at: performance.now() };
  })();
  const start = performance.now();
  for (let i = 0, n = 0; i < bytes.length; i += frame, n++) {
    stt.pushAudio(bytes.subarray(i, i + frame));
    if (speechEndAt === 0 && i >= speechEndByte) speechEndAt = performance.now();
    if (realtime) {
      const due = start + (n + 1) * 20;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  const result = await events;
  await stt.close();
  return { text: result.text, delayMs: result.at - speechEndAt };
}

function framesCost(): { mulawInUs: number; mulawOutUs: number } {
  const frames = 5000;
  const mulaw = mulawEncode(new Int16Array(160).map((_, i) => Math.round(8000 * Math.sin(i / 3))));
  const inbound = new AudioConverter(TWILIO_FORMAT, WIDEBAND_FORMAT);
  let t = performance.now();
  let wide: Uint8Array = new Uint8Array(640);
  for (let i = 0; i < frames; i++) wide = inbound.convert(mulaw);
  const mulawInUs = ((performance.now() - t) * 1000) / frames;
  const outbound = new AudioConverter(WIDEBAND_FORMAT, TWILIO_FORMAT);
  t = performance.now();
  for (let i = 0; i < frames; i++) outbound.convert(wide);
  const mulawOutUs = ((performance.now() - t) * 1000) / frames;
  return { mulawInUs, mulawOutUs };
}

async function vadCost(audio: Int16Array): Promise<number> {
  const vad = await createVad({ onEvent: () => undefined });
  const t = performance.now();
  for (let i = 0; i < audio.length; i += 320) vad.push(audio.subarray(i, i + 320));
  await vad.flush();
  const ms = performance.now() - t;
  await vad.close();
  return ms / (audio.length / 16000);
}

async function main(): Promise<void> {
  const totals = { wideband: { errors: 0, words: 0 }, twilio: { errors: 0, words: 0 } };
  const clips: Int16Array[] = [];
  for (const voice of VOICES) {
    for (const sentence of SENTENCES) {
      const audio = withSilence(await speech(sentence, voice), 500, 1000);
      clips.push(audio);
      for (const [path, format] of [['wideband', WIDEBAND_FORMAT], ['twilio', TWILIO_FORMAT]] as const) {
        const text = await recognize(audio, format, false).then(
          (r) => r.text,
          (error: Error) => {
            console.log(`${path} ${voice}: recognizer failed (${error.message}); counted as all words wrong`);
            return '';
          },
        );
        const r = wordErrorRate(sentence, text);
        totals[path].errors += r.errors;
        totals[path].words += r.referenceWords;
        console.log(`${path.padEnd(8)} ${voice} wer=${r.wer.toFixed(2)}  "${text}"`);
      }
    }
  }
  console.log(`\nWER wideband 16 kHz PCM (flite ${VOICES.join('/')}, ${totals.wideband.words} words): ${(totals.wideband.errors / totals.wideband.words).toFixed(3)}`);
  console.log(`WER Twilio μ-law 8 kHz (same audio):                ${(totals.twilio.errors / totals.twilio.words).toFixed(3)}`);

  const delays: number[] = [];
  for (const clip of clips.slice(0, 3)) delays.push((await recognize(clip, WIDEBAND_FORMAT, true)).delayMs);
  delays.sort((a, b) => a - b);
  console.log(`final transcript after the end of speech (real-time feed; includes the VAD's 600 ms silence wait; n=3): ${delays.map((d) => d.toFixed(0)).join(', ')} ms`);

  const cost = framesCost();
  console.log(`per-frame conversion: μ-law 8k → PCM 16k ${cost.mulawInUs.toFixed(1)} µs, PCM 16k → μ-law 8k ${cost.mulawOutUs.toFixed(1)} µs (20 ms frame)`);
  const all = new Int16Array(clips.slice(0, 6).reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of clips.slice(0, 6)) {
    all.set(c, o);
    o += c.length;
  }
  console.log(`Silero VAD CPU: ${(await vadCost(all)).toFixed(1)} ms per second of audio`);
}

await main();
