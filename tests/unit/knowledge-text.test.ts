import { describe, expect, it } from 'vitest';
import { chunkBlocks } from '../../src/knowledge/chunk.js';
import { blocksFromHtml } from '../../src/knowledge/parse-docx.js';
import { parseCsv } from '../../src/knowledge/parse-csv.js';
import { DocumentParseError, MAX_CSV_COLUMNS } from '../../src/knowledge/limits.js';
import { parseMarkdown, parsePlainText } from '../../src/knowledge/parse-text.js';
import { splitSentences } from '../../src/knowledge/sentences.js';

describe('splitSentences', () => {
  it('splits English on terminal punctuation but not after abbreviations or initials', () => {
    expect(splitSentences('Dr. Smith sees patients at 9 a.m. daily. Call J. Brown, e.g. on Monday! Is it free? Yes.')).toEqual([
      'Dr. Smith sees patients at 9 a.m. daily.',
      'Call J. Brown, e.g. on Monday!',
      'Is it free?',
      'Yes.',
    ]);
  });

  it('splits Russian, keeping т.е., ул. and initials inside sentences', () => {
    expect(splitSentences('Мы на ул. Ленина, д. 15. Врач А. С. Петров принимает утром, т.е. с 9:00. Звоните! «Скидки» есть.')).toEqual([
      'Мы на ул. Ленина, д. 15.',
      'Врач А. С. Петров принимает утром, т.е. с 9:00.',
      'Звоните!',
      '«Скидки» есть.',
    ]);
  });

  it('does not split decimals or lower-case continuations', () => {
    expect(splitSentences('It costs 9.50 dollars. version 1.2 is out.')).toEqual(['It costs 9.50 dollars. version 1.2 is out.']);
  });
});

describe('chunkBlocks', () => {
  it('starts a chunk at every heading and records the heading path as section', () => {
    const chunks = chunkBlocks(
      [
        { type: 'heading', level: 1, text: 'Clinic' },
        { type: 'text', text: 'Intro.' },
        { type: 'heading', level: 2, text: 'Prices' },
        { type: 'text', text: 'Cleaning is $95.', page: 3 },
        { type: 'heading', level: 2, text: 'Hours' },
        { type: 'text', text: 'Open 8 to 7.' },
      ],
      { size: 200, overlap: 50 },
    );
    expect(chunks).toEqual([
      { ordinal: 0, text: 'Intro.', page: null, section: 'Clinic' },
      { ordinal: 1, text: 'Cleaning is $95.', page: 3, section: 'Clinic > Prices' },
      { ordinal: 2, text: 'Open 8 to 7.', page: null, section: 'Clinic > Hours' },
    ]);
  });

  it('packs paragraphs up to the size, splits long ones by sentence, and overlaps within a section', () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`);
    const chunks = chunkBlocks([{ type: 'text', text: sentences.join(' ') }], { size: 120, overlap: 40 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(120);
    // Every sentence survives, and consecutive chunks share their boundary sentence.
    const all = chunks.map((c) => c.text).join('\n');
    for (const s of sentences) expect(all).toContain(s);
    for (let i = 1; i < chunks.length; i++) {
      const prevLast = chunks[i - 1]!.text.split('\n').at(-1)!.split(/(?<=\.) /).at(-1)!;
      expect(chunks[i]!.text.startsWith(prevLast)).toBe(true);
    }
  });

  it('cuts a sentence longer than the size into word runs, and a giant token hard', () => {
    const long = `${'word '.repeat(60)}${'x'.repeat(250)}`;
    const chunks = chunkBlocks([{ type: 'text', text: long }], { size: 100, overlap: 0 });
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(100);
    expect(chunks.map((c) => c.text).join('').replace(/\s/g, '')).toBe(long.replace(/\s/g, ''));
  });
});

describe('parsers', () => {
  it('Markdown keeps ATX and setext headings and strips inline markup', () => {
    const md = '# Title\n\nSome **bold** and [a link](http://x).\n\nSub\n---\n\n- item one\n- item two\n';
    expect(parseMarkdown(md).blocks).toEqual([
      { type: 'heading', level: 1, text: 'Title' },
      { type: 'text', text: 'Some bold and a link.' },
      { type: 'heading', level: 2, text: 'Sub' },
      { type: 'text', text: '- item one\n- item two' },
    ]);
  });

  it('plain text treats a short title line before a paragraph as a heading', () => {
    expect(parsePlainText('Opening hours\n\nWe open at 8.\n\nClosing.').blocks).toEqual([
      { type: 'heading', level: 2, text: 'Opening hours' },
      { type: 'text', text: 'We open at 8.' },
      { type: 'text', text: 'Closing.' },
    ]);
  });

  it('CSV rows become "header: value" lines; the delimiter is sniffed; Cyrillic and quotes survive', () => {
    const csv = '\uFEFFУслуга;Цена;Примечание\n"Стрижка; мужская";1500 руб;\nМаникюр;1200 руб;"с покрытием ""гель"""\n';
    expect(parseCsv(csv.replace(/^\uFEFF/, '')).blocks).toEqual([
      { type: 'text', text: 'Услуга: Стрижка; мужская\nЦена: 1500 руб' },
      { type: 'text', text: 'Услуга: Маникюр\nЦена: 1200 руб\nПримечание: с покрытием "гель"' },
    ]);
  });

  it('CSV: a row of more columns than a spreadsheet has fails naming the limit (a line of commas held 1.1 GB)', () => {
    // 20 MB of commas on one line was 20 million empty fields in one record: the worker died for memory, and the
    // document failed for that, not for its shape. The limit is checked per field, before the record grows.
    const row = (columns: number) => Array.from({ length: columns }, (_, i) => (i === columns - 1 ? 'last' : '')).join(',');
    expect(parseCsv(`name,price\n${row(MAX_CSV_COLUMNS)}\n`).blocks).toEqual([{ type: 'text', text: `column ${MAX_CSV_COLUMNS}: last` }]);
    // Delimiters inside a quoted cell (over lines, with "" escapes) are text, not columns.
    const cell = `"a ""long"" list,\n${','.repeat(MAX_CSV_COLUMNS + 10)}"`;
    expect(parseCsv(`name,notes\nx, ${cell}\n`).blocks).toEqual([{ type: 'text', text: `name: x\nnotes: a "long" list,\n${','.repeat(MAX_CSV_COLUMNS + 10)}` }]);
    for (const csv of [`name,price\n${row(MAX_CSV_COLUMNS + 1)}\n`, `${row(MAX_CSV_COLUMNS + 1)}\nx\n`, `a\n${','.repeat(1_000_000)}\n`]) {
      expect(() => parseCsv(csv)).toThrow(DocumentParseError);
      expect(() => parseCsv(csv)).toThrow(`more than ${MAX_CSV_COLUMNS.toLocaleString('en-US')} columns`);
    }
  });

  it('DOCX HTML: headings, paragraphs, list items and table rows, entities decoded', () => {
    const html = '<h1>Prices &amp; hours</h1><p>Open <strong>daily</strong>.</p><ul><li>Cleaning</li></ul><table><tr><td><p>Cut</p></td><td><p>$20</p></td></tr></table>';
    expect(blocksFromHtml(html)).toEqual([
      { type: 'heading', level: 1, text: 'Prices & hours' },
      { type: 'text', text: 'Open daily.' },
      { type: 'text', text: 'Cleaning' },
      { type: 'text', text: 'Cut | $20' },
    ]);
  });
});

describe('control characters in parsed text', () => {
  it('never reach a block (tabs and newlines stay)', async () => {
    const { parseDocument } = await import('../../src/knowledge/parse.js');
    const parsed = await parseDocument('txt', Buffer.from('Opening hours\u0007 are\tnine to five.\nClosed on Sundays.'));
    const text = parsed.blocks.map((b) => b.text).join('\n');
    expect(text.includes(String.fromCharCode(7))).toBe(false);
    expect(text).toContain('Opening hours are');
  });
});

describe('a document nested too deeply to read', () => {
  it('fails saying so, not with the parser\'s stack overflow', async () => {
    const { parseDocument } = await import('../../src/knowledge/parse.js');
    const { deflated, docxWith, DOC_HEAD, DOC_TAIL } = await import('../fixtures/knowledge/knowledge-zip.js');
    // 20,000 nested content controls: a 600 KB document.xml, well within the XML limit, that mammoth walks recursively.
    const n = 20_000;
    const xml = `${DOC_HEAD}<w:p><w:r><w:t>Open daily.</w:t></w:r>${'<w:sdt><w:sdtContent>'.repeat(n)}${'</w:sdtContent></w:sdt>'.repeat(n)}</w:p>${DOC_TAIL}`;
    const err = await parseDocument('docx', docxWith(deflated('word/document.xml', xml))).then(() => null, (e: unknown) => e as Error);
    expect(err?.name).toBe('DocumentParseError');
    expect(err?.message).toBe('The DOCX file is nested too deeply to read (elements inside elements, thousands of levels); save it again or as PDF');
  });
});
