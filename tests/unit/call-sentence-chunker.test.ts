import { describe, expect, it } from 'vitest';
import { splitForSpeech } from '../../src/call/agent-turn.js';
import { SentenceChunker } from '../../src/call/sentence-chunker.js';

/** Feeds text in small pieces, like LLM tokens. */
function chunkStream(text: string, pieceLen = 3): string[] {
  const c = new SentenceChunker();
  const out: string[] = [];
  for (let i = 0; i < text.length; i += pieceLen) out.push(...c.push(text.slice(i, i + pieceLen)));
  const rest = c.flush();
  if (rest) out.push(rest);
  return out.map((s) => s.trim());
}

describe('SentenceChunker', () => {
  it('releases the first phrase at the first clause boundary, then whole sentences', () => {
    expect(chunkStream('Sure thing, we are open from nine to five. On Saturdays we open at ten, and close at two. Anything else?')).toEqual([
      'Sure thing,',
      'we are open from nine to five.',
      'On Saturdays we open at ten, and close at two.',
      'Anything else?',
    ]);
  });

  it('does not split abbreviations, decimals, times or initials', () => {
    expect(chunkStream('Yes. Dr. Smith sees patients at 3.5 hours past 10:30 on Mon. and J. Doe too, e.g. on Fridays. Thanks!')).toEqual([
      'Yes. Dr. Smith sees patients at 3.5 hours past 10:30 on Mon. and J. Doe too,',
      'e.g. on Fridays. Thanks!',
    ]);
  });

  it('handles Russian punctuation and abbreviations', () => {
    expect(chunkStream('Конечно, мы работаем с 9 до 18, т.е. весь день. Адрес: ул. Ленина, д. 5. Ждём вас!')).toEqual([
      // "Конечно," alone is under the first-phrase minimum; "т.е.", "ул." and "д." never end a sentence.
      'Конечно, мы работаем с 9 до 18,',
      'т.е. весь день. Адрес: ул. Ленина, д. 5.',
      'Ждём вас!',
    ]);
  });

  it('waits for the character after a period before deciding', () => {
    const c = new SentenceChunker();
    expect(c.push('It costs 3.')).toEqual([]);
    expect(c.push('5 dollars. Then')).toEqual(['It costs 3.5 dollars. ']);
    expect(c.flush()).toBe('Then ');
  });

  it('cuts an endless sentence at a space', () => {
    const long = 'word '.repeat(100);
    const parts = chunkStream(long, 7);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.length <= 220)).toBe(true);
    expect(parts.join(' ')).toBe(long.trim());
  });

  it('judges the text left after a cut from its start, however far the earlier text was scanned', () => {
    const c = new SentenceChunker();
    expect(c.push('Hello there my good old friend from the village down the road')).toEqual([]);
    expect(c.push('. Yes? I am well, and you? Great. ')).toEqual(['Hello there my good old friend from the village down the road. ', 'Yes? I am well, and you? ']);
    expect(c.flush()).toBe('Great. ');
  });

  it('splits fixed text into sentences only', () => {
    expect(splitForSpeech('Hello, this is Acme. How can I help?').map((s) => s.trim())).toEqual(['Hello, this is Acme.', 'How can I help?']);
  });
});
