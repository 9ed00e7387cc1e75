/* global URL, console -- Node globals; this file runs under plain node, before any TypeScript tooling. */
/**
 * `npm start` runs the server from plain JavaScript: every TypeScript file under src/ transpiled one file to one file (no
 * bundling, so workers, import.meta.url and relative paths to migrations/ and prompts/ keep working) into dist/,
 * plus the browser page's static files. Transpiling only (types are checked by `npm run typecheck` and CI) takes
 * about a second; running the output instead of compiling on the fly in tsx saves the server ~40 MB of memory and
 * ~2 s of start-up. It also prepares the embedded database's template (src/db/pglite-template.ts), once per
 * PGlite version and set of migrations.
 */
import { cp, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');

async function tsFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

await rm(out, { recursive: true, force: true });
const entryPoints = await tsFiles(src);
await build({
  entryPoints,
  outdir: out,
  outbase: src,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
await cp(join(src, 'web', 'public'), join(out, 'web', 'public'), { recursive: true });
console.log(`built ${entryPoints.length} files into ${relative(root, out)}/`);

// The embedded database's template (src/db/pglite-template.ts): a new DATA_DIR starts as a copy of it instead of
// running initdb and every migration in the server. Made once per PGlite version and set of migrations (a few
// seconds); without it the server still starts, only slower on a new DATA_DIR, so a failure here is a warning.
try {
  const started = Date.now();
  const { buildPGliteTemplate } = await import(pathToFileURL(join(out, 'db', 'pglite-template-build.js')).href);
  const template = await buildPGliteTemplate();
  if (template.built) console.log(`prepared the embedded database's template in ${Date.now() - started} ms: ${relative(root, template.dir)}/`);
} catch (err) {
  console.warn(`warning: the embedded database's template was not prepared (a new DATA_DIR runs initdb instead): ${err?.message ?? err}`);
}
