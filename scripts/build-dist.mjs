/* global URL, console, process -- Node globals; this file runs under plain node, before any TypeScript tooling. */
/**
 * `npm start` runs the server from plain JavaScript: every TypeScript file under src/ transpiled one file to one file (no
 * bundling, so workers, import.meta.url and relative paths to migrations/ and prompts/ keep working) into dist/,
 * plus the browser page's static files. Transpiling only (types are checked by `npm run typecheck` and CI) takes
 * about a second; running the output instead of compiling on the fly in tsx saves the server ~40 MB of memory and
 * ~2 s of start-up. It also prepares the embedded database's template (src/db/pglite-template.ts), once per
 * PGlite version and set of migrations.
 *
 * `npm install` cannot do this work ahead: the project's .npmrc sets ignore-scripts (no dependency's install
 * script runs — onnxruntime-node's would download from the internet — and npm then skips the project's own
 * `prepare` too). So the first `npm start` of a fresh clone makes the template (~2.5 s, once).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');

async function tsFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

/**
 * What dist/ was built from: every file under src/ (name, size, modification time), this script and esbuild's
 * version. `npm start` skips the transpile (most of its second) when dist/ holds a build of exactly these.
 */
async function sourceFingerprint() {
  const hash = createHash('sha256');
  const entries = await readdir(src, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name)).sort();
  for (const file of [...files, fileURLToPath(import.meta.url)]) {
    const s = await stat(file);
    hash.update(`${relative(root, file)} ${s.size} ${s.mtimeMs}\n`);
  }
  const esbuildPackage = JSON.parse(await readFile(join(root, 'node_modules', 'esbuild', 'package.json'), 'utf8'));
  hash.update(`esbuild ${esbuildPackage.version}\n`);
  return hash.digest('hex');
}

const stampFile = join(out, '.source-fingerprint');
const fingerprint = await sourceFingerprint();
if ((await readFile(stampFile, 'utf8').catch(() => null)) === fingerprint) {
  console.log(`dist/ is up to date with src/`);
} else {
  await rm(out, { recursive: true, force: true });
  const entryPoints = await tsFiles(src);
  const { build } = await import('esbuild');
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
  // Written last: an interrupted build leaves no stamp, so the next run builds again.
  await writeFile(stampFile, fingerprint);
  console.log(`built ${entryPoints.length} files into ${relative(root, out)}/`);
}

// The embedded database's template (src/db/pglite-template.ts): a new DATA_DIR starts as a copy of it instead of
// running initdb and every migration in the server. Made once per PGlite version and set of migrations (a few
// seconds); without it the server still starts, only slower on a new DATA_DIR, so a failure here is a warning.
//
// It is made in a child process run with --liftoff-only: V8 then runs PGlite's WASM on its baseline compiler alone.
// By default it also optimises the hot functions on background threads, which pays off in a long-lived database
// but not in initdb's one pass over PostgreSQL's bootstrap, and on a 2-core machine competed with that pass for the
// CPU: initdb in memory 2.9-3.1 -> 1.6-2.2 s here. Only this process: the server's database keeps the optimised code.
// Whether the template is there already is asked here, not in the child: most starts find it, and a child (a second
// Node and PGlite's modules) costs them ~0.2 s.
const { isCluster, pgliteTemplateDir } = await import(pathToFileURL(join(out, 'db', 'pglite-template.js')).href);
const templateDir = await pgliteTemplateDir().catch(() => null); // unreadable: the child says why
if (templateDir === null || !isCluster(templateDir)) await buildTemplate();

async function buildTemplate() {
  const templateStep = 'import(process.argv[1]).then((m) => m.buildPGliteTemplate()).then((t) => console.log(JSON.stringify(t)))';
  const started = Date.now();
  const child = spawn(process.execPath, ['--liftoff-only', '-e', templateStep, pathToFileURL(join(out, 'db', 'pglite-template-build.js')).href], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
  const code = await new Promise((resolve) => child.once('close', resolve).once('error', (err) => ((stderr += String(err)), resolve(-1))));
  if (code === 0) {
    const template = JSON.parse(stdout.trim().split('\n').at(-1));
    if (template.built) console.log(`prepared the embedded database's template in ${Date.now() - started} ms: ${relative(root, template.dir)}/`);
  } else {
    const why = stderr.trim().split('\n').filter((line) => /\S/.test(line) && !/^\s+at /.test(line)).at(-1) ?? `exit code ${code}`;
    console.warn(`warning: the embedded database's template was not prepared (a new DATA_DIR runs initdb instead): ${why}`);
  }
}
