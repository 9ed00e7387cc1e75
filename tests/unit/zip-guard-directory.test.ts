/**
 * The zip guard and the DOCX parser's reader (jszip, inside mammoth) must read the same central directory: an
 * archive built so that the guard sees a small, honest directory while jszip — which takes a gap before the end
 * record for prepended bytes and shifts every offset by it — sees a bomb, is refused, as is an end record hidden
 * in the archive's comment.
 */
import { describe, expect, it } from 'vitest';
import { guardZip } from '../../src/knowledge/zip-guard.js';
import { DEFAULT_INGEST_LIMITS, DocumentParseError } from '../../src/knowledge/limits.js';
import { DOC_HEAD, DOC_TAIL, deflated, deflatedRepeat, makeZip, paragraphXml, stored } from '../fixtures/knowledge/knowledge-zip.js';

const MiB = 1024 * 1024;
const CT = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>';
const RELS = '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>';

/** Splits makeZip's archive into its local entries, its directory and its end record. */
function parts(zip: Uint8Array) {
  const b = Buffer.from(zip);
  const end = b.subarray(b.length - 22);
  const cdSize = end.readUInt32LE(12);
  const cdOffset = end.readUInt32LE(16);
  return { locals: b.subarray(0, cdOffset), cd: b.subarray(cdOffset, cdOffset + cdSize), end };
}

describe('zip guard: one central directory for the guard and the parser', () => {
  it('refuses a decoy directory at the raw offset with the real (bomb) one where jszip looks', async () => {
    const bomb = await deflatedRepeat('word/document.xml', DOC_HEAD, paragraphXml('Open nine to five.'), Math.ceil((20 * MiB) / 40), DOC_TAIL);
    const real = parts(makeZip([deflated('[Content_Types].xml', CT), deflated('_rels/.rels', RELS), bomb]));
    const decoy = parts(makeZip([stored('[Content_Types].xml', CT), stored('_rels/.rels', RELS), stored('word/document.xml', DOC_HEAD + paragraphXml('Hi.') + DOC_TAIL)]));
    expect(decoy.locals.length).toBeLessThan(real.locals.length);
    // The decoy directory sits at the real directory's offset, counted from the start of the file.
    const prefix = Buffer.concat([decoy.locals, Buffer.alloc(real.locals.length - decoy.locals.length), decoy.cd]);
    const file = new Uint8Array(Buffer.concat([prefix, real.locals, real.cd, real.end]));

    // jszip takes the gap between the decoy's end (read as the real size from the raw offset) and the end record
    // for prepended bytes, and so reads the real directory: the 20 MiB part, past the 8 MiB XML limit.
    expect(() => guardZip(file, DEFAULT_INGEST_LIMITS)).toThrow(DocumentParseError);
    expect(() => guardZip(file, DEFAULT_INGEST_LIMITS)).toThrow(/bytes before or inside the ZIP directory/);
  });

  it('refuses an archive whose comment carries a second end record, and one with bytes after its end', () => {
    const honest = makeZip([deflated('[Content_Types].xml', CT), deflated('_rels/.rels', RELS), deflated('word/document.xml', DOC_HEAD + paragraphXml('Hi.') + DOC_TAIL)]);
    expect(guardZip(honest, DEFAULT_INGEST_LIMITS).entries).toBe(3);
    const { locals, cd, end } = parts(honest);
    const comment = Buffer.from([0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    const withComment = Buffer.from(end);
    withComment.writeUInt16LE(comment.length, 20);
    expect(() => guardZip(new Uint8Array(Buffer.concat([locals, cd, withComment, comment])), DEFAULT_INGEST_LIMITS)).toThrow(/damaged ZIP directory/);
    expect(() => guardZip(new Uint8Array(Buffer.concat([locals, cd, end, Buffer.from('trailing')])), DEFAULT_INGEST_LIMITS)).toThrow(DocumentParseError);
  });
});
