import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TWILIO_FORMAT, WIDEBAND_FORMAT, type AudioFormat } from '../../src/audio/format.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import { convertAudio } from '../../src/audio/convert.js';
import { wordErrorRate } from '../../src/audio/wer.js';
import { LocalSttProvider, type LocalSttOptions } from '../../src/providers/stt/local.js';
import type { SttEvent, SttSession } from '../../src/providers/types.js';
import { concatSamples } from '../../src/audio/pcm.js';

const fixture = (name: string): Int16Array =>
  wavToPcm16(readWav(readFileSync(fileURLToPath(new URL(`../fixtures/speech/${name}`, import.meta.url)))));
const transcripts = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/speech/transcripts.json', import.meta.url)), 'utf8'),
) as Record<string, string>;

const concat = concatSamples;
const silence = (ms: number): Int16Array => new Int16Array(ms * 16);

/**
 * Pushes 16 kHz audio as 20 ms frames of `format`, one frame per event-loop turn as frames arrive from a socket
 * (not paced in wall time).
 */
async function feed(stt: SttSession, audio16k: Int16Array, format: AudioFormat): Promise<void> {
  const bytes = convertAudio(pcm16ToBytes(audio16k), WIDEBAND_FORMAT, format);
  const frame = format === TWILIO_FORMAT ? 160 : 640;
  for (let i = 0; i < bytes.length; i += frame) {
    stt.pushAudio(bytes.subarray(i, i + frame));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Collects events (but `voice`) until `count` finals/utterance_ends (or an error) arrived, then closes. */
async function collect(stt: SttSession, count: number): Promise<SttEvent[]> {
  const events: SttEvent[] = [];
  let ends = 0;
  for await (const e of stt.events) {
    if (e.type === 'voice') continue;
    events.push(e);
    if (e.type === 'final' || e.type === 'utterance_end' || e.type === 'error') ends++;
    if (ends >= count || e.type === 'error') break;
  }
  await stt.close();
  return events;
}

async function open(format: AudioFormat, options: LocalSttOptions = {}): Promise<SttSession> {
  return new LocalSttProvider(options).open({ format, language: 'en', signal: new AbortController().signal });
}

describe('local STT (Silero VAD + pocketsphinx)', () => {
  it('recognizes two wideband utterances in order with a low word error rate', async () => {
    const stt = await open(WIDEBAND_FORMAT);
    const first = fixture('book-slt.wav');
    await feed(stt, concat(silence(1000), first, silence(1500), fixture('hours-rms.wav'), silence(1000)), WIDEBAND_FORMAT);
    const events = await collect(stt, 2);
    const starts = events.filter((e) => e.type === 'speech_started');
    const finals = events.filter((e): e is Extract<SttEvent, { type: 'final' }> => e.type === 'final');
    expect(starts).toHaveLength(2);
    expect(Math.abs((starts[0] as { atMs: number }).atMs - 1000)).toBeLessThan(300);
    expect(finals).toHaveLength(2);
    expect(finals.every((f) => f.endOfUtterance)).toBe(true);
    // Each final carries the recognizer's confidence in its last words (pocketsphinx's word posteriors).
    for (const f of finals) {
      expect(f.confidence).toBeGreaterThan(0);
      expect(f.confidence).toBeLessThanOrEqual(1);
    }
    const wer1 = wordErrorRate(transcripts['book-slt.wav']!, finals[0]!.text).wer;
    const wer2 = wordErrorRate(transcripts['hours-rms.wav']!, finals[1]!.text).wer;
    expect(wer1).toBeLessThanOrEqual(0.3);
    expect(wer2).toBeLessThanOrEqual(0.3);
  }, 60_000);

  it('reports the caller\'s voice from the same VAD: ready, then a quick onset and end per utterance', async () => {
    const stt = await open(WIDEBAND_FORMAT);
    await feed(stt, concat(silence(1000), fixture('book-slt.wav'), silence(1500), fixture('hours-rms.wav'), silence(1000)), WIDEBAND_FORMAT);
    const events: SttEvent[] = [];
    let finals = 0;
    for await (const e of stt.events) {
      events.push(e);
      if (e.type === 'final' || e.type === 'utterance_end') finals++;
      if (finals === 2) break;
    }
    await stt.close();
    const voice = events.filter((e): e is Extract<SttEvent, { type: 'voice' }> => e.type === 'voice');
    expect(voice[0]).toEqual({ type: 'voice', activity: 'ready', agoMs: 0 });
    expect(voice.slice(1).map((e) => e.activity)).toEqual(['onset', 'end', 'onset', 'end']);
    // Each onset is reported before the recognizer's own (200 ms) speech start for the same utterance.
    const order = events.filter((e) => e.type === 'speech_started' || (e.type === 'voice' && e.activity === 'onset')).map((e) => e.type);
    expect(order).toEqual(['voice', 'speech_started', 'voice', 'speech_started']);
    // An onset is reported once 64 ms of speech are in, so it happened at least that long before.
    for (const e of voice.filter((v) => v.activity === 'onset')) expect(e.agoMs).toBeGreaterThanOrEqual(64);
  }, 60_000);

  it('finalize() ends an utterance that has no trailing silence yet', async () => {
    const stt = await open(WIDEBAND_FORMAT, { vad: { minSilenceMs: 5000 }, prewarm: false, voice: false });
    await feed(stt, concat(silence(500), fixture('hours-rms.wav')), WIDEBAND_FORMAT);
    // Wait for the VAD to fire, then force the end.
    const iterator = stt.events[Symbol.asyncIterator]();
    const started = await iterator.next();
    expect(started.value).toMatchObject({ type: 'speech_started' });
    stt.finalize();
    const final = await iterator.next();
    expect(final.value).toMatchObject({ type: 'final', endOfUtterance: true });
    expect(wordErrorRate(transcripts['hours-rms.wav']!, (final.value as { text: string }).text).wer).toBeLessThanOrEqual(0.4);
    await stt.close();
  }, 60_000);

  it('accepts Twilio μ-law 8 kHz audio end to end (accuracy there is not promised)', async () => {
    const stt = await open(TWILIO_FORMAT);
    await feed(stt, concat(silence(500), fixture('book-slt.wav'), silence(1000)), TWILIO_FORMAT);
    const events = await collect(stt, 1);
    expect(events[0]).toMatchObject({ type: 'speech_started' });
    expect(['final', 'utterance_end']).toContain(events.at(-1)!.type);
  }, 60_000);

  it('emits nothing for silence and ends the event stream on close', async () => {
    const stt = await open(WIDEBAND_FORMAT);
    await feed(stt, silence(2000), WIDEBAND_FORMAT);
    const done = (async () => {
      const events: SttEvent[] = [];
      for await (const e of stt.events) events.push(e);
      return events;
    })();
    stt.finalize();
    await stt.close();
    expect(await done).toEqual([{ type: 'voice', activity: 'ready', agoMs: 0 }]);
  });

  it('refuses Russian with an unavailable error the caller can fall back on', async () => {
    await expect(
      new LocalSttProvider().open({ format: WIDEBAND_FORMAT, language: 'ru', signal: new AbortController().signal }),
    ).rejects.toMatchObject({ code: 'PARLEY_ERR_UNAVAILABLE' });
  });

  it('reports a missing recognizer binary as a non-recoverable error event', async () => {
    const stt = await open(WIDEBAND_FORMAT, { binary: '/nonexistent/pocketsphinx_continuous' });
    await feed(stt, concat(silence(300), fixture('hours-rms.wav'), silence(1000)), WIDEBAND_FORMAT);
    const events = await collect(stt, 1);
    const error = events.at(-1)!;
    expect(error.type).toBe('error');
    expect(error).toMatchObject({ recoverable: false });
    expect((error as { error: Error }).error.message).toMatch(/not found/);
  }, 30_000);
});
