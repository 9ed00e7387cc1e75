/**
 * Starts a worker thread on a module that sits next to the caller, from the source tree or from the build: under
 * tsx (`npm run dev`, vitest) the caller's URL ends in .ts and a thread does not inherit tsx's loader, so the thread
 * registers tsx's ESM hooks itself and then imports the TypeScript entry; from dist/ it is plain JavaScript.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startModuleWorker(callerUrl: string, moduleName: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  if (callerUrl.endsWith('.ts')) {
    const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const entry = new URL(`./${moduleName}.ts`, callerUrl).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(new URL(`./${moduleName}.js`, callerUrl), options);
}
