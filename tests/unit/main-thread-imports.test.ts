/**
 * What the call loop's thread loads at start: every module src/main.ts reaches through static imports (a type-only
 * import loads nothing; a dynamic import() loads on first use, so it is not followed). Document parsing runs in
 * the ingestion workers (knowledge/ingest-worker.ts) and must not be loaded beside the calls: its libraries are
 * heap that every full collection marks again (mammoth and unpdf were ~3.8 MB of it; the twilio package's index,
 * its REST client, ~4.5 MB more).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
/** `import x from 'y'`, `import { a, type B } from 'y'`, `export … from 'y'`, `import 'y'` — not `import type`. */
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

function staticGraph(entry: string): { files: Set<string>; packages: Set<string>; specifiers: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const specifiers = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (spec!.startsWith('.')) visit(resolve(dirname(file), spec!.replace(/\.js$/, '.ts')));
      else if (!spec!.startsWith('node:')) {
        specifiers.add(spec!);
        packages.add(spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return { files, packages, specifiers };
}

describe('the call loop\'s thread', () => {
  it('never loads the document parsers; the ingestion worker does', () => {
    const main = staticGraph(resolve(SRC, 'main.ts'));
    const server = staticGraph(resolve(SRC, 'server.ts'));
    for (const graph of [main, server]) {
      expect([...graph.packages]).not.toContain('mammoth');
      expect([...graph.packages]).not.toContain('unpdf');
      expect([...graph.files].map((f) => f.slice(SRC.length + 1))).not.toContain('knowledge/parse.ts');
    }
  });

  it('loads only the parts of the twilio package it uses (signatures, TwiML), not its index and REST client', () => {
    const server = staticGraph(resolve(SRC, 'server.ts'));
    expect(server.packages).toContain('twilio');
    expect(server.specifiers).not.toContain('twilio');
  });

  it('is walked, not guessed: the walk finds the parsers where they are loaded', () => {
    const worker = staticGraph(resolve(SRC, 'knowledge/ingest-worker.ts'));
    expect(worker.packages).toContain('mammoth');
    expect(worker.packages).toContain('unpdf');
    expect(staticGraph(resolve(SRC, 'server.ts')).packages).toContain('fastify');
  });
});
