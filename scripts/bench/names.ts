/**
 * How often the local recognizer hears a caller's name right, per language model: the installed generic one, the
 * bot's own (keyterms → local-lm.ts) and the model for an expected name (what the guided flow's "May I have your
 * name?" selects, recognition-context.ts). Names spoken by flite (voice slt) in two forms, "my name is <first>
 * <last>" and the bare "<first> <last>"; 20 pairs from the common-names list (local-names.ts) and 8 not in it,
 * none of them used in the conversation eval (scripts/eval-calls.ts). Each utterance is decoded whole by
 * pocketsphinx (no VAD, no transport): this measures the models, not the call path.
 *   npx tsx scripts/bench/names.ts [--voice slt]
 */
import { parseArgs } from 'node:util';
import { resampleOffline } from '../../src/audio/resample.js';
import { sharedLanguageModels } from '../../src/providers/stt/local-lm.js';
import { FIRST_NAMES, SURNAMES } from '../../src/providers/stt/local-names.js';
import { PocketsphinxProcess } from '../../src/providers/stt/local-recognizer.js';
import { findNameSlot, nameSecondLook } from '../../src/providers/stt/local-lm-name-slot.js';
import { extractName } from '../../src/bookings/flow/understand.js';
import { installedPronunciations, soundMatchName } from '../../src/bookings/name-sound.js';
import { synthesize } from '../../src/providers/tts/local-synth.js';
import { HANDYMAN_TERMS as TERMS } from './lib/handyman-terms.js';

const { values } = parseArgs({ options: { voice: { type: 'string', default: 'slt' } } });

/** Words of the eval's names, left out so this measure stays held out. */
const EVAL_WORDS = new Set(['john', 'smith', 'anna', 'lee', 'bob', 'stone', 'kate', 'brown', 'tom', 'hardy', 'lisa', 'ray', 'sam', 'wood', 'nina', 'gold', 'maria', 'lopez', 'peter', 'pan']);

/** 20 pairs spread over the lists (a fixed stride, so the same every run). */
function listedNames(n: number): string[] {
  const firsts = [...new Set(FIRST_NAMES)].filter((w) => !EVAL_WORDS.has(w));
  const lasts = [...new Set(SURNAMES)].filter((w) => !EVAL_WORDS.has(w));
  return Array.from({ length: n }, (_, i) => `${firsts[(i * 37 + 5) % firsts.length]} ${lasts[(i * 53 + 11) % lasts.length]}`);
}
/** Names whose words are in neither list (all in the pronouncing dictionary). */
const UNLISTED = ['hugo blake', 'irma pratt', 'felix norton', 'wendy marsh', 'gavin doyle', 'ingrid bauer', 'oscar quinn', 'edith frost'];


async function speech(text: string): Promise<Int16Array> {
  const { samples, sampleRate } = await synthesize({ engine: 'flite', text, voice: values.voice!, binary: 'flite', timeoutMs: 20_000 }).result;
  const s = resampleOffline(samples, sampleRate, 16000);
  const padded = new Int16Array(8000 + s.length + 8000);
  padded.set(s, 8000);
  return padded;
}

async function decode(samples: Int16Array, args: string[]): Promise<string> {
  const p = new PocketsphinxProcess({ binary: 'pocketsphinx_continuous', args, timeoutMs: 30_000 });
  p.write(samples);
  return (await p.finish()).text;
}

/** The name is heard when both its words appear, in order, in what was recognized. */
const heard = (name: string, text: string): boolean => ` ${text.toLowerCase()} `.includes(` ${name} `);

console.log('Building (or loading) the models…');
const models: Record<string, string[]> = {
  generic: [],
  bot: await sharedLanguageModels.argsFor(TERMS),
  'expected name': await sharedLanguageModels.argsFor(TERMS, 'name'),
};
const dictionary = await installedPronunciations();

/** What the flow would take as the name from the expected-name decode of `samples` (lower case, '' for none). */
async function handled(samples: Int16Array, text: string): Promise<string> {
  const slot = findNameSlot(text, true);
  const looked = slot ? await nameSecondLook(text, slot, samples, { binary: 'pocketsphinx_continuous', args: models['expected name']!, timeoutMs: 30_000 }, []) : text;
  const name = extractName(looked, true);
  return (name && dictionary ? soundMatchName(name, dictionary) ?? name : name ?? '').toLowerCase();
}
let forced = 0;

const sets = { 'listed names': listedNames(20), 'unlisted names': UNLISTED };
const forms: Record<string, (name: string) => string> = { 'my name is …': (n) => `my name is ${n}`, bare: (n) => n };

const tally = new Map<string, { ok: number; all: number; words: number; allWords: number }>();
for (const [setName, names] of Object.entries(sets)) {
  for (const [formName, form] of Object.entries(forms)) {
    console.log(`\n## ${setName}, "${formName}" (flite ${values.voice})`);
    for (const name of names) {
      const samples = await speech(form(name));
      const row: string[] = [];
      for (const [model, args] of Object.entries(models)) {
        const text = await decode(samples, args);
        const ok = heard(name, text);
        const key = `${setName} | ${formName} | ${model}`;
        const t = tally.get(key) ?? { ok: 0, all: 0, words: 0, allWords: 0 };
        t.all++;
        if (ok) t.ok++;
        const said = ` ${text.toLowerCase()} `;
        for (const w of name.split(' ')) {
          t.allWords++;
          if (said.includes(` ${w} `)) t.words++;
        }
        tally.set(key, t);
        row.push(`${model}: ${ok ? '✓' : '✗'} ${text || '(nothing)'}`);
        if (model !== 'expected name') continue;
        const got = await handled(samples, text);
        const hk = `${setName} | ${formName} | name handling`;
        const h = tally.get(hk) ?? { ok: 0, all: 0, words: 0, allWords: 0 };
        h.all++;
        if (got === name) h.ok++;
        for (const w of name.split(' ')) {
          h.allWords++;
          if (` ${got} `.includes(` ${w} `)) h.words++;
        }
        tally.set(hk, h);
        // An unlisted name made into a listed one that the recognizer did not hear.
        if (setName === 'unlisted names' && got && got !== extractName(text, true)?.toLowerCase()) forced++;
        row.push(`handled: ${got === name ? '✓' : '✗'} ${got || '(none)'}`);
      }
      console.log(`${name.padEnd(18)} ${row.join('  |  ')}`);
    }
  }
}
console.log('\n| names | form | model | whole name right | name words right |\n|---|---|---|---|---|');
const pct = (a: number, b: number): string => `${a}/${b} (${Math.round((100 * a) / b)} %)`;
for (const [key, t] of [...tally].sort(([a], [b]) => a.localeCompare(b))) console.log(`| ${key.split(' | ').join(' | ')} | ${pct(t.ok, t.all)} | ${pct(t.words, t.allWords)} |`);
console.log(`\nUnlisted names turned into a different name by the name handling: ${forced}/${UNLISTED.length * Object.keys(forms).length}`);
