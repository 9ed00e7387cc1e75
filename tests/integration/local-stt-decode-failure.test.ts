/**
 * A local decode that fails (pocketsphinx crashed, exited with an error): the segment is decoded once more from
 * the audio the session still holds; one that fails again is reported as `unheard` (the call asks the caller to
 * repeat) and the session goes on; a recognizer that fails segment after segment fails the session as before.
 * The recognizer here is a stand-in script that fails as many decodes as the test says, then answers.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { concatSamples, pcm16ToBytes } from '../../src/audio/pcm.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import type { SttEvent, SttSession } from '../../src/providers/types.js';
import { readSttEvents } from '../helpers/stt-events.js';
import { until } from '../helpers/until.js';

const speech = wavToPcm16(readWav(readFileSync(fileURLToPath(new URL('../fixtures/speech/hours-rms.wav', import.meta.url)))));
const silence = (ms: number): Int16Array => new Int16Array(ms * 16);

/** A recognizer that reads the audio, then fails while `failures` says so (counting down), else prints its words. */
function flakyRecognizer(failures: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-flaky-ps-'));
  const counter = join(dir, 'failures');
  writeFileSync(counter, String(failures));
  const binary = join(dir, 'pocketsphinx_continuous');
  writeFileSync(binary, [
    '#!/bin/sh',
    'cat > /dev/null',
    `n=$(cat '${counter}')`,
    `if [ "$n" -gt 0 ]; then echo $((n - 1)) > '${counter}'; echo 'decoder crashed' >&2; exit 3; fi`,
    'echo "what time do you open"',
  ].join('\n'));
  chmodSync(binary, 0o755);
  return binary;
}

async function open(failures: number): Promise<SttSession> {
  return new LocalSttProvider({ binary: flakyRecognizer(failures), languageModels: false, voice: false })
    .open({ format: WIDEBAND_FORMAT, language: 'en', signal: new AbortController().signal });
}

/** Speaks `utterances` copies of the fixture, each followed by silence, one 20 ms frame per event-loop turn. */
async function speak(stt: SttSession, utterances: number): Promise<void> {
  const parts: Int16Array[] = [silence(500)];
  for (let i = 0; i < utterances; i++) parts.push(speech, silence(1500));
  const bytes = pcm16ToBytes(concatSamples(...parts));
  for (let i = 0; i < bytes.length; i += 640) {
    stt.pushAudio(bytes.subarray(i, i + 640));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The events that answer speech (finals, utterance ends, unheard segments, errors) until `count` or the end. */
async function answers(stt: SttSession, count: number): Promise<SttEvent[]> {
  const out: SttEvent[] = [];
  for await (const e of stt.events) {
    if (e.type === 'final' || e.type === 'utterance_end' || e.type === 'unheard' || e.type === 'error') out.push(e);
    if (out.length >= count || e.type === 'error') break;
  }
  return out;
}

const kinds = (events: SttEvent[]) => events.map((e) => (e.type === 'final' ? `final: ${e.text}` : e.type));

describe('local STT: a segment whose decode fails', () => {
  it('is decoded once more from the same audio, and its words come through', async () => {
    const stt = await open(1);
    await speak(stt, 1);
    expect(kinds(await answers(stt, 1))).toEqual(['final: what time do you open']);
    await stt.close();
  }, 60_000);

  it('failing twice is reported as unheard, not dropped, and the session goes on to hear the next one', async () => {
    const stt = await open(2);
    // The stand-in counts failures across decodes: the second utterance is spoken once the first is answered, so
    // its decode cannot take one of the first's two failures (on a loaded machine the two decodes overlapped).
    const { events } = readSttEvents(stt);
    const answered = () => events.filter((e) => e.type === 'final' || e.type === 'utterance_end' || e.type === 'unheard' || e.type === 'error');
    await speak(stt, 1);
    await until(() => answered().length >= 1, 30_000);
    await speak(stt, 1);
    await until(() => answered().length >= 2, 30_000);
    expect(kinds(answered())).toEqual(['unheard', 'final: what time do you open']);
    expect((answered()[0] as { error: Error }).error.message).toMatch(/decoder crashed/);
    await stt.close();
  }, 60_000);

  it('a recognizer that fails segment after segment fails the session (the call reopens it or gives up)', async () => {
    const stt = await open(1000);
    await speak(stt, 2);
    const events = await answers(stt, 3);
    expect(kinds(events)).toEqual(['unheard', 'error']);
    expect(events[1]).toMatchObject({ recoverable: false });
  }, 60_000);
});
