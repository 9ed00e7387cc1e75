/**
 * Utterances for the end-of-turn benchmark (and the prosody test's fixtures): sentences with a mid-sentence pause
 * and complete sentences, spoken by flite (voice slt, 16 kHz).
 *
 * Fair by construction: a paused item is ONE synthesized sentence with silence spliced in at a word boundary
 * (found from flite's own segment timings, `-psdur`), so the words before the pause carry mid-sentence
 * intonation, as a caller's would — not a separately synthesized half that ends like a statement. Complete
 * items are spoken whole. The pauses fall where people pause: after a preposition, a conjunction, a filler,
 * mid-number, and after a content word with more to come ("I need an appointment … for my son").
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WIDEBAND_FORMAT } from '../../../src/audio/format.js';
import { pcm16FromBytes } from '../../../src/audio/pcm.js';
import { wavToFormat } from '../../lib/speech-audio.js';

const run = promisify(execFile);

/** [before the pause, after it]. */
export const PAUSED_EN: [string, string][] = [
  ["I'd like to book for", 'tomorrow at ten'],
  ['My phone number is five five five', 'one two three four'],
  ['Can I come in on', 'Friday afternoon'],
  ['I want to cancel my appointment and', 'book a new one'],
  ['I was wondering if', 'you have anything on Monday'],
  ['Could you tell me', 'how much a filling costs'],
  ['My name is', 'Sarah Johnson'],
  ['I need an appointment', 'for my son next week'],
  ['Um', 'do you take walk ins'],
  ['We would like to come in the', 'morning if possible'],
  ['Is there a parking lot near', 'the clinic'],
  ['I have a question about', 'my bill'],
  ['The best time for me is after', 'five in the evening'],
  ['My date of birth is the', 'third of March'],
  ['I called yesterday because', 'my tooth hurts'],
  ['Can you move my booking to', 'next Thursday'],
  ['I would prefer a doctor who', 'speaks Spanish'],
  ['My insurance is with', 'Blue Cross'],
  ['So', 'what do I need to bring'],
  ['Could I book a cleaning and', 'a checkup'],
  ['The appointment was for my', 'daughter'],
  ['I live on', 'Maple Street'],
  ['I think I left my umbrella in', 'the waiting room'],
  ['Is it possible to', 'pay by card'],
  ['Well', 'I am not sure yet'],
  ['Do you have anything', 'earlier in the day'],
  ['My email address is john at', 'example dot com'],
  ['I would like to speak with', 'the manager'],
  ['We are a family of', 'four'],
  ['I can come any day except', 'Wednesday'],
  ['The code on my letter is seven', 'four nine two'],
  ['Could you send me a reminder by', 'text message'],
  ['I need to reschedule because', 'I am travelling'],
  ['What I really want is', 'a quick checkup'],
  ['Can my wife come with', 'me'],
  ['I booked online but', 'I never got a confirmation'],
  ['Please call me back at', 'two one two five five five'],
  ['I have been waiting for', 'about three weeks'],
  ['Is the clinic open during', 'the holidays'],
  ['My last visit was in', 'September'],
  ['If you have a slot on', 'Saturday I will take it'],
  ['I would like to know the price of', 'whitening'],
  ['Actually', 'can we make it later'],
  ['Uh', 'how long does it take'],
];

export const COMPLETE_EN: string[] = [
  'What time do you open on Saturday?',
  'I would like to book a cleaning.',
  'Do you take new patients?',
  'Thank you very much.',
  'Yes, that works for me.',
  'No, thank you.',
  'Can I pay by card?',
  'My name is Sarah Johnson.',
  'I need to cancel my appointment.',
  'Where can I park?',
  'How much does a filling cost?',
  'Tomorrow at ten would be great.',
  'I have a toothache.',
  'Is the doctor in today?',
  'That sounds good.',
  'Could you repeat that, please?',
  'I would like to speak to a person.',
  'Please book me for Friday afternoon.',
  'Okay, see you then.',
  'Do you have anything next week?',
  'My phone number is five five five one two three four.',
  'I live on Maple Street.',
  'How long will it take?',
  'Can my wife come with me?',
  'I want to reschedule.',
  'Are you open on Sunday?',
  'The appointment is for my daughter.',
  'I will be there at nine.',
  'What do I need to bring?',
  'Goodbye.',
  'Can you send me a text message?',
  'I never got a confirmation.',
  'That is all, thanks.',
  'I would prefer the morning.',
  'Do you accept Blue Cross insurance?',
  'Is there a parking lot near the clinic?',
  'I think I left my umbrella in the waiting room.',
  'Sorry, I did not catch that.',
  'Monday is fine.',
  'I am calling about my bill.',
  'Can I bring my dog?',
  'Please call me back later.',
  'I would like a checkup.',
  'Perfect, thank you.',
];

const WORD_PHONES = /\S+/g;

/** flite segments of `text` with their end times (s), pauses excluded. */
async function segments(text: string, wavOut: string | null): Promise<{ phone: string; end: number }[]> {
  const { stdout } = await run('flite', ['-voice', 'slt', '-psdur', '-t', text, wavOut ? '-o' : 'none', ...(wavOut ? [wavOut] : [])]);
  return (stdout.match(WORD_PHONES) ?? [])
    .map((s) => {
      const [phone, end] = s.split(':');
      return { phone: phone ?? '', end: Number(end) };
    })
    .filter((s) => s.phone && s.phone !== 'pau' && Number.isFinite(s.end));
}

/** One sentence, spoken whole by flite at 16 kHz, and the sample where `prefix`'s last word ends in it. */
export async function speakWithBoundary(prefix: string, rest: string): Promise<{ pcm: Int16Array; boundary: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-turn-'));
  try {
    const out = join(dir, 'whole.wav');
    const whole = await segments(`${prefix} ${rest}`, out);
    const before = await segments(prefix, null);
    const pcm = pcm16FromBytes(wavToFormat(new Uint8Array(await readFile(out)), WIDEBAND_FORMAT)).slice();
    const n = before.length;
    if (n === 0 || n >= whole.length || before.some((s, i) => s.phone !== whole[i]!.phone)) {
      throw new Error(`cannot place the pause in "${prefix} … ${rest}": flite's phones differ`);
    }
    return { pcm, boundary: Math.round(whole[n - 1]!.end * 16000) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A complete sentence spoken whole (16 kHz PCM). */
export async function speakWhole(text: string): Promise<Int16Array> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-turn-'));
  try {
    const out = join(dir, 'whole.wav');
    await run('flite', ['-voice', 'slt', '-t', text, '-o', out]);
    return pcm16FromBytes(wavToFormat(new Uint8Array(await readFile(out)), WIDEBAND_FORMAT)).slice();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
