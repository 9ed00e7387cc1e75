/**
 * Word error rate of the local recognizer (pocketsphinx via LocalSttProvider) on fixed spoken utterances
 * (flite, voice slt), through the two transports' real inbound paths:
 *   web:    16 kHz PCM16 binary frames → WebCallTransport → STT session (16 kHz)
 *   twilio: 16 kHz → 8 kHz → μ-law media messages → TwilioMediaTransport → STT session (μ-law 8 kHz, which the
 *           recognizer decodes and resamples back to 16 kHz)
 * each with the installed generic language model and with the bot's own model (keyterms → src/providers/stt/
 * local-lm.ts), on two sets never used to build anything: salon questions with the demo salon bot's terms, and
 * held-out sentences (everyday and handyman requests) with a handyman bot's terms.
 *   npx tsx scripts/bench/wer.ts [--voice slt]
 */
import { parseArgs } from 'node:util';
import type { AudioFormat } from '../../src/audio/format.js';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { pcm16ToBytes } from '../../src/audio/pcm.js';
import { createResampler, resampleOffline } from '../../src/audio/resample.js';
import { wordErrorRate } from '../../src/audio/wer.js';
import { botKeyterms } from '../../src/bookings/keyterms.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import { synthesize } from '../../src/providers/tts/local-synth.js';
import type { SttEvent } from '../../src/providers/types.js';
import type { CallTransport } from '../../src/telephony/transport.js';
import { TwilioMediaTransport } from '../../src/telephony/twilio/media-transport.js';
import { WebCallTransport } from '../../src/telephony/web/web-transport.js';
import { DEMO_BOT_CONFIG } from '../lib/demo.js';
import { HANDYMAN_TERMS } from './lib/handyman-terms.js';

const { values } = parseArgs({ options: { voice: { type: 'string', default: 'slt' } } });

export const UTTERANCES = [
  'I would like to book a haircut tomorrow at three',
  'What time do you open on Saturday',
  'Can I cancel my appointment for Friday',
  'How much does a beard trim cost',
  'My name is Anna and my number is five five five one two three four',
  'Do you have anything available next Monday morning',
  'I need to reschedule to next week please',
  'Where are you located',
  'Yes that works for me thank you',
  'Is there parking near the salon',
];

/** Sentences written for this measure only: not in the language-model corpus, nor in the conversation eval. */
export const HELD_OUT = [
  'Could someone come and fix my faucet on Thursday afternoon',
  'I have two shelves that need putting up next week',
  'Is Mike available on Friday at four thirty',
  'My name is Laura Bennett and my number is seven one eight five five five zero one four four',
  'Actually make that Wednesday morning',
  'Do you have parking outside',
  'The kitchen tap keeps dripping all night',
  'How long will the mounting take',
  'We just moved into a new house',
  'Please send someone as early as you can on Monday',
  'My husband will be home to let you in',
  'Do I need to buy the bracket myself',
  'Can you also hang a mirror while you are here',
  'I would rather have the slot at eleven thirty',
  'That is too late for me anything before lunch',
];

const SALON_TERMS = botKeyterms({ name: 'Bright Smile Salon', config: DEMO_BOT_CONFIG });

const RATE = 16000;
/** A socket that accepts and drops whatever the transport sends. */
const nullSocket = { OPEN: 1, readyState: 1, bufferedAmount: 0, send: () => {}, close: () => {} } as never;

async function speech(text: string): Promise<Int16Array> {
  const { samples, sampleRate } = await synthesize({ engine: 'flite', text, voice: values.voice!, binary: 'flite', timeoutMs: 20_000 }).result;
  const s = resampleOffline(samples, sampleRate, RATE);
  // Half a second before, a second and a half after: the VAD needs silence to close the utterance.
  const padded = new Int16Array(RATE / 2 + s.length + (RATE * 3) / 2);
  padded.set(s, RATE / 2);
  return padded;
}

/** Opens an STT session in the transport's input format, feeds the frames through the transport, returns the text. */
async function recognize(transport: CallTransport, feed: (frame: number) => void, frames: number, keyterms: string[]): Promise<string> {
  const stt = new LocalSttProvider({ languageModelWaitMs: 60_000 });
  const abort = new AbortController();
  const session = await stt.open({ format: transport.inputFormat as AudioFormat, language: 'en', keyterms, signal: abort.signal });
  transport.attach({ onAudio: (f) => session.pushAudio(f), onDtmf: () => {}, onText: () => {}, onMark: () => {}, onClose: () => {} });
  const texts: string[] = [];
  let started = 0;
  let open = 0;
  let fed = false;
  let done!: () => void;
  const settled = new Promise<void>((r) => (done = r));
  void (async () => {
    for await (const ev of session.events as AsyncIterable<SttEvent>) {
      if (ev.type === 'speech_started') {
        started++;
        open++;
      }
      if (ev.type === 'final') {
        if (ev.text.trim()) texts.push(ev.text.trim());
        open--;
      }
      if (ev.type === 'utterance_end') open--;
      if (fed && open <= 0) break;
    }
    done();
  })();
  // Frame by frame with a turn of the event loop between, as frames arrive from a socket.
  for (let i = 0; i < frames; i++) {
    feed(i);
    await new Promise((r) => setImmediate(r));
  }
  session.finalize();
  fed = true;
  const waitMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await waitMs(500);
  if (started > 0 && open > 0) await Promise.race([settled, waitMs(30_000)]);
  abort.abort();
  await session.close();
  return texts.join(' ');
}

async function viaWeb(samples: Int16Array, keyterms: string[]): Promise<string> {
  const transport = new WebCallTransport(nullSocket, () => {});
  const bytes = pcm16ToBytes(samples);
  return recognize(transport, (i) => transport.receiveAudio(bytes.subarray(i * 640, (i + 1) * 640)), Math.floor(bytes.length / 640), keyterms);
}

async function viaTwilio(samples: Int16Array, keyterms: string[]): Promise<string> {
  const transport = new TwilioMediaTransport(nullSocket, 'MZbench', 'CAbench', null);
  const down = createResampler(RATE, 8000);
  const mulaw = mulawEncode(down.process(samples));
  return recognize(transport, (i) => {
    const payload = Buffer.from(mulaw.subarray(i * 160, (i + 1) * 160)).toString('base64');
    transport.receive({ event: 'media', streamSid: 'MZbench', track: 'inbound', payload });
  }, Math.floor(mulaw.length / 160), keyterms);
}

type Tally = { errors: number; words: number };
const pct = (x: Tally) => `${((100 * x.errors) / x.words).toFixed(1)}% (${x.errors}/${x.words} words)`;

async function measure(title: string, sentences: string[], terms: string[]): Promise<void> {
  const totals: Record<string, Tally> = {};
  const add = (k: string, ref: string, hyp: string) => {
    const w = wordErrorRate(ref, hyp);
    const t = (totals[k] ??= { errors: 0, words: 0 });
    t.errors += w.errors;
    t.words += w.referenceWords;
    return `${hyp || '(nothing)'}   WER ${w.wer.toFixed(2)}`;
  };
  console.log(`## ${title}: ${sentences.length} flite (${values.voice}) utterances; bot terms: ${terms.join(', ')}\n`);
  for (const text of sentences) {
    const samples = await speech(text);
    console.log(`ref:            ${text}`);
    console.log(`web generic:    ${add('web generic', text, await viaWeb(samples, []))}`);
    console.log(`web bot model:  ${add('web bot model', text, await viaWeb(samples, terms))}`);
    console.log(`twilio generic: ${add('twilio generic', text, await viaTwilio(samples, []))}`);
    console.log(`twilio bot:     ${add('twilio bot model', text, await viaTwilio(samples, terms))}\n`);
  }
  for (const [k, t] of Object.entries(totals)) console.log(`WER ${title}, ${k.padEnd(17)} ${pct(t)}`);
  console.log('');
}

console.log(`local recognizer WER (web: 16 kHz PCM16; twilio: 8 kHz μ-law → 16 kHz), generic model vs the bot's model\n`);
await measure('salon questions', UTTERANCES, SALON_TERMS);
await measure('held-out', HELD_OUT, HANDYMAN_TERMS);
