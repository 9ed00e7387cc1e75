/**
 * Text that tenants, callers or the LLM control goes through these patterns: a crafted run (dots, spaces,
 * newlines, an address-like word) must cost time in proportion to its length. Each input below took the old
 * quadratic patterns a minute or more (a 100 KB run of dots: 14 s in a document's sentence splitter); linear,
 * each is milliseconds. The test's timeout is the hang guard; the results are checked against the ordinary ones.
 */
import { describe, expect, it } from 'vitest';
import { fillVariables } from '../../src/campaigns/answer.js';
import { parseMarkdown } from '../../src/knowledge/parse-text.js';
import { splitSentences } from '../../src/knowledge/sentences.js';
import { redact } from '../../src/privacy/redact.js';
import { allowContactsIn, checkPhrase, stripFormatting } from '../../src/safety/safe-speech.js';

const HANG_GUARD = { timeout: 15_000 };
const RUN = 300_000;

describe('text patterns stay linear on crafted runs', () => {
  it('sentence splitting: a run of dots, and a paragraph of abbreviations', HANG_GUARD, () => {
    expect(splitSentences(`${'.'.repeat(RUN)}a! Next one.`)).toHaveLength(2);
    expect(splitSentences('Hello... World! Next. 3 items?! "Quote" here.')).toEqual(['Hello...', 'World!', 'Next.', '3 items?!', '"Quote" here.']);
    expect(splitSentences('See Dr. Smith and Mr. Jones. '.repeat(10_000))).toHaveLength(10_000);
    expect(splitSentences('Ask Dr. Smith. Then go.')).toEqual(['Ask Dr. Smith.', 'Then go.']);
  });

  it('markdown documents: runs of "[", "![", "](" and "<" with nothing closing them', HANG_GUARD, () => {
    const textOf = (md: string) => parseMarkdown(md).blocks.map((b) => b.text).join('\n');
    for (const run of ['[', '![', '[a](', '<']) expect(textOf(`${run.repeat(RUN / run.length)} end`).endsWith('end')).toBe(true);
    expect(textOf('See [our prices](https://x.example/p) and ![map](m.png), <b>bold</b> text.')).toBe('See our prices and map, bold text.');
  });

  it('campaign variables: a prompt with a long run of newlines', HANG_GUARD, () => {
    expect(fillVariables(`Hi {{name}}${'\n'.repeat(RUN)}x`, { name: 'Ann' })).toBe(`Hi Ann${'\n'.repeat(RUN)}x`);
    expect(fillVariables('Hi {{name}} , see you {{day}} .', { name: 'Ann', day: 'Friday' })).toBe('Hi Ann, see you Friday.');
    // Only the contact's own values: an inherited method is no variable.
    expect(fillVariables('Hi {{constructor}}{{toString}}{{name}}.', { name: 'Ann' })).toBe('Hi Ann.');
  });

  it('safe speech: an address-like run in a document, and whitespace runs in a phrase', HANG_GUARD, () => {
    const ctx = { language: 'en' as const };
    expect(allowContactsIn(ctx, `${'a.'.repeat(RUN / 2)}!`)).toBe(ctx);
    expect(allowContactsIn(ctx, 'Write to desk@clinic.example.com today').allowedNumbers).toEqual(['desk@clinic.example.com']);
    expect(stripFormatting(`**Hours**${' '.repeat(RUN)}x\n${'\t'.repeat(RUN)}!`)).toBe('Hours x!');
    expect(stripFormatting('**Hours** :\n  nine to five .')).toBe('Hours: nine to five.');
    expect(checkPhrase(`Call${' '.repeat(RUN)}now.`, ctx)).toEqual({ ok: true });
  });

  it('redaction finds addresses with the same pattern as the safe-speech check', HANG_GUARD, () => {
    expect(redact(`${'a.'.repeat(RUN / 2)}! mail x@y.io`, ['emails'])).toMatch(/ mail \[email\]$/);
    expect(allowContactsIn({ language: 'en' }, 'mail x@y.io').allowedNumbers).toEqual(['x@y.io']);
  });
});
