/**
 * Answer models: the language model the local recognizer decodes the answer to one kind of question with. The
 * name model expects names after "my name is" far more than the bot's model does, writes the common spelling of
 * names that sound alike, keeps some of the bot's words for an off-script answer, and is cached apart from the
 * bot's model; the cache hands out a built answer model at once and otherwise queues it, never waiting.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { answerCorpus } from '../../src/providers/stt/local-lm-corpus.js';
import { buildLanguageModel, DEFAULT_DICTIONARY, type BuildRequest, type BuiltModel } from '../../src/providers/stt/local-lm-build.js';
import { LanguageModelCache } from '../../src/providers/stt/local-lm.js';
import { until } from '../helpers/until.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-lm-answers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** log10 p(w | h) as listed in an ARPA file's bigrams, or null. */
function bigram(arpa: string, h: string, w: string): number | null {
  const m = new RegExp(`^(-?[\\d.]+)\\t?\\s*${h} ${w}(\\s|$)`, 'm').exec(arpa);
  return m ? Number(m[1]) : null;
}

describe('answer models', () => {
  const terms = ['Handy Helpers', 'Tap repair', 'leaky faucet'];

  it('the name model expects a name after "is", in its common spelling, and keeps the bot\'s words', () => {
    const bot = buildLanguageModel({ terms, dictionary: DEFAULT_DICTIONARY, dir, key: 'bot', genericWords: 0 });
    const name = buildLanguageModel({ terms, dictionary: DEFAULT_DICTIONARY, dir, key: 'name', genericWords: 0, expected: 'name' });
    const botArpa = readFileSync(bot.lm, 'utf8');
    const nameArpa = readFileSync(name.lm, 'utf8');
    const isAnna = bigram(nameArpa, 'is', 'anna');
    expect(isAnna).not.toBeNull();
    expect(isAnna!).toBeGreaterThan(bigram(botArpa, 'is', 'anna') ?? -99);
    // "ana" sounds like "anna", listed first: the answers write "anna" ("ana" is left to the bot's share).
    expect(isAnna!).toBeGreaterThan((bigram(nameArpa, 'is', 'ana') ?? -99) + 0.5);
    // A share of the bot's own corpus: its service words stay in the vocabulary.
    expect(readFileSync(name.dict, 'utf8')).toMatch(/^faucet /m);
  }, 60_000);

  it('answer corpora hold what answers to each question sound like', () => {
    const text = (kind: Parameters<typeof answerCorpus>[0]) => answerCorpus(kind, 300).map((s) => s.text).join('\n');
    expect(text('name')).toMatch(/^my name is [a-z]+ [a-z]+$/m);
    expect(text('spelling')).toMatch(/^([a-z] ){2,}[a-z]$/m);
    expect(text('phone')).toMatch(/^(zero|oh|one|two|three|four|five|six|seven|eight|nine)( (zero|oh|one|two|three|four|five|six|seven|eight|nine)){6,}$/m);
    expect(text('yesno')).toMatch(/^yes$/m);
    expect(text('datetime')).toMatch(/(monday|tuesday|tomorrow|today).*/);
  });

  it('the cache keys answer models apart, hands out a built one at once and queues the rest', async () => {
    const built: BuildRequest[] = [];
    const cache = new LanguageModelCache({
      dir: join(dir, 'cache'),
      build: async (req): Promise<BuiltModel> => {
        built.push(req);
        const lm = join(dir, `${req.key}.lm`);
        writeFileSync(lm, '');
        return { lm, dict: lm, words: 0, unknown: [] };
      },
    });
    expect(cache.keyOf(terms)).not.toBe(cache.keyOf(terms, 'name'));
    expect(cache.answerArgs(terms, 'name')).toBeNull();
    expect(cache.answerArgs(terms, 'name')).toBeNull(); // asked again while queued: still one build
    await cache.argsFor(terms, 'name');
    expect(cache.answerArgs(terms, 'name')?.[0]).toBe('-lm');
    expect(built.filter((r) => r.expected === 'name')).toHaveLength(1);
    cache.prepareAnswers(terms);
    await until(() => (['yesno', 'phone', 'datetime', 'spelling'] as const).every((k) => cache.answerArgs(terms, k)));
    expect(built.map((r) => r.expected).sort()).toEqual(['datetime', 'name', 'phone', 'spelling', 'yesno']);
  });
});
