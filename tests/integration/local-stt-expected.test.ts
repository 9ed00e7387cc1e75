/**
 * The local recognizer picks its language model per utterance from what the bot just asked
 * (SttSessionOptions.expected): the model for that kind of answer when it is built, the bot's own otherwise —
 * never waiting for a build. A stand-in recognizer binary answers with the name of the `-lm` it was started
 * with, so each final says which model decoded it; the VAD (Silero) and the session are real.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { WIDEBAND_FORMAT } from '../../src/audio/format.js';
import { readWav, wavToPcm16 } from '../../src/audio/wav.js';
import type { BuildRequest, BuiltModel } from '../../src/providers/stt/local-lm-build.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import { LocalSttProvider, type LocalSttOptions } from '../../src/providers/stt/local.js';
import { finalOfUtterance } from '../helpers/local-stt-utterance.js';
import { RecognitionContext } from '../../src/providers/stt/recognition-context.js';
import type { ExpectedInput, SttEvent } from '../../src/providers/types.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-expected-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A recognizer that reads the audio, then prints the model it was given ("bot", "name", … or "generic"). */
const binary = join(dir, 'fake-pocketsphinx');
writeFileSync(binary, `#!/bin/sh
cat > /dev/null
model=generic
while [ $# -gt 0 ]; do
  if [ "$1" = "-lm" ]; then model=$(basename "$2" .lm); fi
  shift
done
echo "$model"
`);
chmodSync(binary, 0o755);

const speech = wavToPcm16(readWav(readFileSync(fileURLToPath(new URL('../fixtures/speech/book-slt.wav', import.meta.url)))));

/** Models named by what they are for; `hold` kinds never finish building. */
function models(hold: ExpectedInput[] = []): { cache: LanguageModelCache; built: string[] } {
  const built: string[] = [];
  const cache = new LanguageModelCache({
    dir,
    build: (req: BuildRequest): Promise<BuiltModel> => {
      const name = req.expected ?? 'bot';
      if (req.expected && hold.includes(req.expected)) return new Promise(() => {});
      built.push(name);
      return Promise.resolve({ lm: join(dir, `${name}.lm`), dict: join(dir, `${name}.dict`), words: 1, unknown: [] });
    },
  });
  return { cache, built };
}


async function open(options: LocalSttOptions, context: RecognitionContext | undefined, keyterms = ['Haircut']) {
  const provider = new LocalSttProvider({ binary, voice: false, ...options });
  const abort = new AbortController();
  const stt = await provider.open({ format: WIDEBAND_FORMAT, language: 'en', keyterms, signal: abort.signal, ...(context ? { expected: context } : {}) });
  const events = (stt.events as AsyncIterable<SttEvent>)[Symbol.asyncIterator]();
  return { stt, events, close: () => stt.close() };
}

describe('local STT: the model follows what the bot asked', () => {
  it.each([true, false])('decodes the answer to a name question with the name model (prewarm %s)', async (prewarm) => {
    const { cache } = models();
    // Built ahead, as they are after a bot's first call.
    await Promise.all((['name', 'yesno', 'phone', 'datetime', 'spelling'] as const).map((k) => cache.argsFor(['Haircut'], k)));
    const context = new RecognitionContext();
    const s = await open({ languageModels: cache, prewarm }, context);
    try {
      expect(await finalOfUtterance(s.stt, s.events, speech)).toBe('bot');
      context.expect('name');
      expect(await finalOfUtterance(s.stt, s.events, speech)).toBe('name');
      context.expect('yesno');
      expect(await finalOfUtterance(s.stt, s.events, speech)).toBe('yesno');
      context.expect(null);
      expect(await finalOfUtterance(s.stt, s.events, speech)).toBe('bot');
    } finally {
      await s.close();
    }
  }, 60_000);

  it('uses the bot\'s model while the answer model is still being built, and queues the builds at open', async () => {
    const { cache, built } = models(['phone']);
    const context = new RecognitionContext();
    context.expect('phone');
    const s = await open({ languageModels: cache }, context);
    try {
      expect(await finalOfUtterance(s.stt, s.events, speech)).toBe('bot');
      // The other answer models were queued by open() and built meanwhile, one after another.
      expect(built).toEqual(expect.arrayContaining(['bot', 'name', 'yesno']));
      expect(built).not.toContain('phone');
    } finally {
      await s.close();
    }
  }, 60_000);

  it('without a context, or with a model given in args, nothing changes', async () => {
    const { cache, built } = models();
    const plain = await open({ languageModels: cache }, undefined);
    try {
      expect(await finalOfUtterance(plain.stt, plain.events, speech)).toBe('bot');
    } finally {
      await plain.close();
    }
    const context = new RecognitionContext();
    context.expect('name');
    const own = await open({ languageModels: cache, args: ['-lm', join(dir, 'own.lm')] }, context);
    try {
      expect(await finalOfUtterance(own.stt, own.events, speech)).toBe('own');
    } finally {
      await own.close();
    }
    expect(built).toEqual(['bot']);
  }, 60_000);
});
