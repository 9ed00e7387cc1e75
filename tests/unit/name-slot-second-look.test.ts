/**
 * The recognizer's second look at a name slot (src/providers/stt/local-lm-name-slot.ts): where a name is in a
 * recognized text, the grammar the same audio is decoded again with, and when the second decode may replace
 * what was heard (only a listed name that sounds like it). A hand-written pronouncing dictionary keeps this exact.
 */
import { describe, expect, it } from 'vitest';
import { acceptNameSlot, findNameSlot, nameSlotGrammar } from '../../src/providers/stt/local-lm-name-slot.js';
import { parsePronunciations } from '../../src/providers/stt/local-names.js';

const dict = parsePronunciations([
  'sam S AE1 M', 'one W AH1 N', 'one(2) HH W AH1 N', 'wood W UH1 D', 'came K EY1 M', 'kate K EY1 T', 'brown B R AW1 N',
  'you Y UW1', 'know N OW1', 'blade B L EY1 D', 'tina T IY1 N AH0', 'lane L EY1 N', 'my M AY1', 'name N EY1 M', 'is IH1 Z',
].join('\n'));

describe('name slot', () => {
  it('finds the words after "my name is" anywhere, with the words around them', () => {
    expect(findNameSlot('i want tv mounting tomorrow at nine am my name is sam one', false)).toEqual({
      before: 'i want tv mounting tomorrow at nine am my name is'.split(' '), slot: ['sam', 'one'], after: [],
    });
    expect(findNameSlot('my name is sam one and my number is five', false)?.slot).toEqual(['sam', 'one']);
  });

  it('takes the whole answer to a name question, after a lead-in like "this is"', () => {
    expect(findNameSlot('came brown', true)).toEqual({ before: [], slot: ['came', 'brown'], after: [] });
    expect(findNameSlot('yes this is came brown', true)).toEqual({ before: ['yes', 'this', 'is'], slot: ['came', 'brown'], after: [] });
  });

  it('has nothing to look at when the name is already a plausible one, or there is no name', () => {
    expect(findNameSlot('my name is kate brown', false)).toBeNull();
    expect(findNameSlot('hugo blake', true)).toBeNull();
    expect(findNameSlot('this is great', false)).toBeNull();
    expect(findNameSlot('tomorrow at ten', false)).toBeNull();
  });

  it('writes a grammar with the heard words and the listed names in the slot, the rest as heard', () => {
    const g = nameSlotGrammar({ before: ['my', 'name', 'is'], slot: ['sam', 'one'], after: [] }, (w) => w !== 'kate')!;
    expect(g).toContain('public <utterance> = my name is ( sam one | <first> [ <last> ] ) ;');
    expect(g).toMatch(/<first> = james \| john/);
    expect(g).not.toMatch(/\| kate \|/);
    expect(g).toMatch(/<last> = smith \| johnson/);
    expect(nameSlotGrammar({ before: ['5pm'], slot: ['sam', 'one'], after: [] }, () => true)).toBeNull();
  });
});

describe('accepting the second decode', () => {
  const slot = { before: ['my', 'name', 'is'], slot: ['sam', 'one'], after: [] };

  it('takes a listed name that sounds like the words heard', () => {
    expect(acceptNameSlot(slot, 'my name is sam wood', dict)).toBe('my name is sam wood');
    expect(acceptNameSlot({ before: [], slot: ['came', 'brown'], after: [] }, 'kate brown', dict)).toBe('kate brown');
  });

  it('keeps what was heard when the grammar only forced some listed name onto it', () => {
    // "Hugo Blake" heard as "you know blade": the grammar's "tina lane" fits the audio but does not sound like it.
    const hugo = findNameSlot('you know blade', true)!;
    expect(hugo).toEqual({ before: [], slot: ['you', 'know'], after: ['blade'] });
    expect(acceptNameSlot(hugo, 'tina lane blade', dict)).toBeNull();
    expect(acceptNameSlot(slot, 'my name is sam one', dict)).toBeNull();
    // Not a name of the lists, or a word the dictionary lacks.
    expect(acceptNameSlot(slot, 'my name is sam is', dict)).toBeNull();
    expect(acceptNameSlot(slot, 'my name is sam wong', dict)).toBeNull();
  });
});
