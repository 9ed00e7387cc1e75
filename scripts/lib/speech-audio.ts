/** Audio for simulated callers: WAV files or text spoken by the local TTS binaries, in any target format. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeSamples } from '../../src/audio/convert.js';
import type { AudioFormat } from '../../src/audio/format.js';
import { resampleOffline } from '../../src/audio/resample.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';

const run = promisify(execFile);

export function wavToFormat(bytes: Uint8Array, to: AudioFormat): Uint8Array {
  const wav = readWav(bytes);
  const pcm = resampleOffline(wavToPcm16(wav), wav.sampleRate, to.sampleRate);
  return encodeSamples(pcm, to.encoding);
}

export async function wavFileToFormat(path: string, to: AudioFormat): Promise<Uint8Array> {
  return wavToFormat(new Uint8Array(await readFile(path)), to);
}

/** Speaks `text` with flite (English) or espeak-ng (Russian) into a WAV, converted to `to`. */
export async function speak(text: string, to: AudioFormat, language: 'en' | 'ru' = 'en'): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-say-'));
  try {
    const out = join(dir, 'say.wav');
    if (language === 'ru') await run('espeak-ng', ['-v', 'ru', '-w', out, text]);
    else await run('flite', ['-voice', 'slt', '-t', text, '-o', out]);
    return wavToFormat(new Uint8Array(await readFile(out)), to);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
