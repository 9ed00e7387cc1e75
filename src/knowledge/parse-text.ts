/** Plain text and Markdown → blocks, keeping headings (Markdown ATX/setext; in plain text, short title lines). */
import { tidy, type Block, type ParsedDocument } from './blocks.js';

function paragraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n+/)
    .map(tidy)
    .filter(Boolean);
}

/** A plain-text paragraph that is one short line without sentence punctuation reads as a title. */
function looksLikeTitle(p: string): boolean {
  return !p.includes('\n') && p.length <= 80 && !/[.!?:;,…]$/.test(p) && /\p{L}/u.test(p);
}

export function parsePlainText(text: string): ParsedDocument {
  const ps = paragraphs(text);
  const blocks: Block[] = ps.map((p, i) =>
    looksLikeTitle(p) && i + 1 < ps.length && !looksLikeTitle(ps[i + 1]!) ? { type: 'heading', level: 2, text: p } : { type: 'text', text: p },
  );
  return { blocks, pageCount: null };
}

/**
 * Links, images, emphasis, code and tags reduced to their text. Each bracket's scan stops at the next opening one
 * ("[^\][]", "[^()]", "[^<>]"): a run of "[", "](" or "<" with no closing bracket costs time in proportion to its
 * length (scanning to the end from every one was quadratic: 1 MB of "[" held an ingest worker its whole 120 s).
 */
function stripInlineMarkdown(s: string): string {
  return s
    .replace(/!\[([^\][]*)\]\([^()]*\)/g, '$1')
    .replace(/\[([^\][]+)\]\([^()]*\)/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|[\s(])[*_]([^*_\n]+)[*_](?=[\s).,!?:;]|$)/g, '$1$2')
    .replace(/`([^`]+)`/g, '$1')
    .replace(/<[^<>]+>/g, '');
}

export function parseMarkdown(text: string): ParsedDocument {
  const blocks: Block[] = [];
  let para: string[] = [];
  let inFence = false;
  const flush = () => {
    const t = tidy(stripInlineMarkdown(para.join('\n')));
    if (t) blocks.push({ type: 'text', text: t });
    para = [];
  };
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) {
      para.push(line);
      continue;
    }
    const atx = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const next = lines[i + 1];
    if (atx) {
      flush();
      const t = stripInlineMarkdown(atx[2]!).trim();
      if (t) blocks.push({ type: 'heading', level: atx[1]!.length, text: t });
    } else if (line.trim() && para.length === 0 && next !== undefined && /^\s{0,3}(=+|-+)\s*$/.test(next)) {
      flush();
      blocks.push({ type: 'heading', level: next.trim().startsWith('=') ? 1 : 2, text: stripInlineMarkdown(line).trim() });
      i++;
    } else if (!line.trim() || /^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
    } else {
      para.push(line.replace(/^\s*>\s?/, ''));
    }
  }
  flush();
  return { blocks, pageCount: null };
}
