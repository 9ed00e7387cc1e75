/**
 * Checks a ZIP archive (a DOCX) before any parser opens it: reads the central directory itself, refuses
 * ZIP64, unknown compression methods and more than MAX_ARCHIVE_ENTRIES entries, sums the declared
 * uncompressed sizes against the limits, then inflates every entry with a byte cap (zlib's maxOutputLength),
 * so an entry that lies about its size is caught while it inflates, not after. The parser (mammoth, via
 * jszip) reads the same entries at the same offsets and so inflates the same bytes.
 */
import { inflateRawSync } from 'node:zlib';
import { DocumentParseError, limitExceeded, MAX_ARCHIVE_ENTRIES, type IngestLimits } from './limits.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const corrupt = (why: string) => new DocumentParseError(`The DOCX file could not be read (it may be corrupt): ${why}`);

export interface ZipSummary {
  entries: number;
  expandedBytes: number;
  xmlBytes: number;
}

const isXmlPart = (name: string): boolean => /\.(xml|rels)$/i.test(name);

export function guardZip(bytes: Uint8Array, limits: Pick<IngestLimits, 'maxExpandedBytes' | 'maxXmlBytes'>): ZipSummary {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const inBounds = (at: number, len: number) => at >= 0 && len >= 0 && at + len <= bytes.length;

  // End of central directory: the last 22 bytes, or earlier when the archive has a comment (up to 65,535 bytes).
  // The last signature in the file, as jszip picks it: one inside the final 21 bytes (a comment's) is no record.
  let eocd = -1;
  for (let i = bytes.length - 4; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (u32(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no ZIP directory');
  if (eocd > bytes.length - 22 || eocd + 22 + u16(eocd + 20) !== bytes.length) throw corrupt('a damaged ZIP directory (its end record and comment do not end the file)');
  const count = u16(eocd + 10);
  const cdSize = u32(eocd + 12);
  const cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw corrupt('ZIP64 archives are not supported');
  // The directory must end where its end record begins. jszip (the DOCX parser's reader) takes any gap for bytes
  // prepended to the archive and shifts every offset by it, so it would read another directory than this guard.
  if (cdOffset + cdSize !== eocd) throw corrupt('bytes before or inside the ZIP directory (the parser would read another one)');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0 || u16(eocd + 8) !== count) throw corrupt('multi-part archives are not supported');
  if (count > MAX_ARCHIVE_ENTRIES) throw limitExceeded.entries();
  if (!inBounds(cdOffset, cdSize)) throw corrupt('the ZIP directory lies outside the file');

  let declaredTotal = 0;
  let declaredXml = 0;
  const entries: { name: string; method: number; compressed: number; declared: number; offset: number }[] = [];
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (!inBounds(at, 46) || u32(at) !== CENTRAL) throw corrupt('a damaged ZIP directory entry');
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const compressed = u32(at + 20);
    const declared = u32(at + 24);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    const offset = u32(at + 42);
    if (!inBounds(at + 46, nameLen)) throw corrupt('a damaged ZIP directory entry');
    const name = Buffer.from(bytes.buffer, bytes.byteOffset + at + 46, nameLen).toString(flags & 0x800 ? 'utf8' : 'latin1');
    if (flags & 0x1) throw corrupt('encrypted DOCX files are not supported');
    if (method !== 0 && method !== 8) throw corrupt(`unsupported compression method ${method}`);
    if (compressed === 0xffffffff || declared === 0xffffffff || offset === 0xffffffff) throw corrupt('ZIP64 archives are not supported');
    declaredTotal += declared;
    if (isXmlPart(name)) declaredXml += declared;
    if (declaredXml > limits.maxXmlBytes) throw limitExceeded.xml(limits.maxXmlBytes);
    if (declaredTotal > limits.maxExpandedBytes) throw limitExceeded.expanded(limits.maxExpandedBytes);
    entries.push({ name, method, compressed, declared, offset });
    at += 46 + nameLen + extraLen + commentLen;
  }

  // Declared sizes can lie: inflate each entry, never past what it declared (the totals above are within limits).
  let actualTotal = 0;
  let actualXml = 0;
  for (const e of entries) {
    if (!inBounds(e.offset, 30) || u32(e.offset) !== LOCAL) throw corrupt(`a damaged entry ${JSON.stringify(e.name.slice(0, 100))}`);
    const start = e.offset + 30 + u16(e.offset + 26) + u16(e.offset + 28);
    if (!inBounds(start, e.compressed)) throw corrupt(`a truncated entry ${JSON.stringify(e.name.slice(0, 100))}`);
    let size: number;
    if (e.method === 0) {
      size = e.compressed;
    } else {
      const data = bytes.subarray(start, start + e.compressed);
      try {
        // One byte of room past the declared size tells "larger than declared" from "exactly declared".
        size = inflateRawSync(data, { maxOutputLength: e.declared + 1 }).length;
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) size = e.declared + 1;
        else throw corrupt(`entry ${JSON.stringify(e.name.slice(0, 100))} does not inflate (${(err as Error).message})`);
      }
    }
    if (size > e.declared) {
      throw new DocumentParseError(
        `The DOCX file's part ${JSON.stringify(e.name.slice(0, 100))} is larger than its header declares; the file is corrupt or a zip bomb`,
      );
    }
    actualTotal += size;
    if (isXmlPart(e.name)) actualXml += size;
  }
  return { entries: entries.length, expandedBytes: actualTotal, xmlBytes: actualXml };
}
