/**
 * The local recognizer's second look at a name (local.ts → local-lm-name-slot.ts), through a real session (Silero
 * VAD, ring, decode order): a final whose name slot holds everyday words ("my name is sam one") is decoded again
 * from the same audio with a names grammar and the model's own dictionary, and the slot is replaced only by a listed
 * name that sounds like it. A stand-in recognizer answers "my name is sam one" for the language model and, for a
 * grammar, what the test sets (FAKE_GRAMMAR_ANSWER), checking the grammar it was given.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import type { BuildRequest, BuiltModel } from '../../src/providers/stt/local-lm-build.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import { LocalSttProvider } from '../../src/providers/stt/local.js';
import { finalOfUtterance } from '../helpers/local-stt-utterance.js';
import type { SttEvent } from '../../src/providers/types.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-name-slot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => delete process.env.FAKE_GRAMMAR_ANSWER);

const binary = join(dir, 'fake-pocketsphinx');
writeFileSync(binary, `#!/bin/sh
cat > /dev/null
grammar=
while [ $# -gt 0 ]; do
  if [ "$1" = "-jsgf" ]; then grammar="$2"; fi
  shift
done
if [ -z "$grammar" ]; then echo "my name is sam one"; exit 0; fi
# The grammar keeps the words around the slot and offers the heard words or listed names in it.
grep -q "my name is ( sam one | <first> \\[ <last> \\] )" "$grammar" || { echo "bad grammar"; exit 0; }
grep -q "| wood |" "$grammar" || { echo "no surnames"; exit 0; }
echo "$FAKE_GRAMMAR_ANSWER"
`);
chmodSync(binary, 0o755);

// The bot model's dictionary: the pocketsphinx format, a few words.
writeFileSync(join(dir, 'bot.dict'), ['my M AY', 'name N EY M', 'is IH Z', 'sam S AE M', 'one W AH N', 'wood W UH D', 'tina T IY N AH', 'lane L EY N', 'smith S M IH TH'].join('\n'));
const cache = new LanguageModelCache({
  dir,
  build: (req: BuildRequest): Promise<BuiltModel> =>
    Promise.resolve({ lm: join(dir, `${req.expected ?? 'bot'}.lm`), dict: join(dir, 'bot.dict'), words: 9, unknown: [] }),
});

const speech = wavToPcm16(readWav(readFileSync(fileURLToPath(new URL('../fixtures/speech/book-slt.wav', import.meta.url)))));

async function final(): Promise<string> {
  const provider = new LocalSttProvider({ binary, voice: false, languageModels: cache });
  const stt = await provider.open({ format: WIDEBAND_FORMAT, language: 'en', keyterms: ['Haircut'], signal: new AbortController().signal });
  const events = (stt.events as AsyncIterable<SttEvent>)[Symbol.asyncIterator]();
  try {
    return await finalOfUtterance(stt, events, speech);
  } finally {
    await stt.close();
  }
}

const grammarsLeft = (): string[] => readdirSync(tmpdir()).filter((f) => /^parley-name-.*\.gram$/.test(f));

describe('local STT: a second look at a name heard as everyday words', () => {
  it('takes the listed name the grammar finds when it sounds like what was heard', async () => {
    process.env.FAKE_GRAMMAR_ANSWER = 'my name is sam wood';
    const before = grammarsLeft().length;
    expect(await final()).toBe('my name is sam wood');
    expect(grammarsLeft().length).toBe(before);
  }, 60_000);

  it('keeps the first decode when the grammar forces a name that does not sound like it, or finds nothing', async () => {
    process.env.FAKE_GRAMMAR_ANSWER = 'my name is tina lane';
    expect(await final()).toBe('my name is sam one');
    process.env.FAKE_GRAMMAR_ANSWER = '';
    expect(await final()).toBe('my name is sam one');
  }, 60_000);
});
