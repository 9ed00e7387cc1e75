import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { RootSql } from '../../src/db/sql.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('are JSON and never carry secrets', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream);
    log.info({ apiKey: 'pk_secret', token: 'tok', nested: { secret: 'whsec_x', password: 'p' }, req: { headers: { authorization: 'Bearer pk_abc' } } }, 'hello');
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg).toBe('hello');
    expect(lines[0]).not.toMatch(/pk_secret|pk_abc|whsec_x|"tok"|"p"/);
    expect(entry.req.headers.authorization).toBe('[redacted]');
  });

  it('each request line has a request id, echoed to the client, and no authorization header', async () => {
    const { lines, stream } = capture();
    const app = await buildApp({
      config: testConfig(), sql: {} as RootSql, log: createLogger('info', stream), adminToken: 'x',
      validateWebhookUrl: async () => {},
    });
    const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'req-42', authorization: 'Bearer pk_live_secret' } });
    expect(res.headers['x-request-id']).toBe('req-42');
    const mine = lines.map((l) => JSON.parse(l)).filter((e) => e.reqId === 'req-42');
    expect(mine.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain('pk_live_secret');
    await app.close();
  });
});
