/**
 * A start step that fails names the dependency and the setting that points at it (main.ts prints the message),
 * never the setting's value; a dependency started in the background is retried until it answers.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { describeError, startInBackground } from '../../src/startup.js';

describe('start steps', () => {
  it('an unreachable PostgreSQL fails the start naming DATABASE_URL, not its password', async () => {
    const config = testConfig({ DATABASE_URL: 'postgres://parley:hunter2-password@127.0.0.1:1/parley', PORT: '0', HOST: '127.0.0.1' });
    const failure = await startServer(config, createLogger('silent'), { port: 0 }).then(() => null, (err: unknown) => err as Error);
    expect(failure?.message).toMatch(/^database migrations \(DATABASE_URL\): .*ECONNREFUSED/);
    expect(failure?.message).not.toContain('hunter2');
  });

  it('a DATA_DIR that cannot hold the generated secrets fails the start naming DATA_DIR', async () => {
    const config = testConfig({ DATA_DIR: '/dev/null/parley', PORT: '0', HOST: '127.0.0.1' });
    const failure = await startServer(config, createLogger('silent'), { port: 0 }).then(() => null, (err: unknown) => err as Error);
    expect(failure?.message).toMatch(/DATA_DIR/);
  });

  it('describeError adds the cause that "fetch failed" hides', () => {
    const err = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6333'), { code: 'ECONNREFUSED' }) });
    expect(describeError(err)).toBe('fetch failed (ECONNREFUSED)');
  });

  it('a background start is retried with a warning per failure until it succeeds', async () => {
    const lines: Array<{ msg: string; attempt?: number; QDRANT_URL?: string }> = [];
    const log = createLogger('info', new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as (typeof lines)[number]);
        done();
      },
    }));
    let calls = 0;
    const start = startInBackground(async () => {
      if (++calls < 3) throw new Error('connect ECONNREFUSED');
    }, log, { dependency: 'vector store', fields: { QDRANT_URL: 'http://q:6333' }, meanwhile: 'calls go on', backoff: { baseMs: 1, maxMs: 2 } });
    expect(start.ready).toBe(false);
    await start.whenReady;
    expect(start.ready).toBe(true);
    expect(calls).toBe(3);
    expect(lines.map((l) => [l.msg.split(';')[0], l.attempt ?? null])).toEqual([
      ['vector store unreachable at start', 1],
      ['vector store still unreachable', 2],
      ['vector store ready', null],
    ]);
    expect(lines.every((l) => l.QDRANT_URL === 'http://q:6333')).toBe(true);
  });
});
