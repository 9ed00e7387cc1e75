/**
 * X-Forwarded-For counts only from peers TRUST_PROXY names (by default loopback alone: a proxy on the same host).
 * A request carrying it from another peer is counted by the peer's address, and the server says so once per peer —
 * the sign of a load balancer left out of TRUST_PROXY.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import type { RootSql } from '../../src/db/sql.js';
import { createLogger } from '../../src/log.js';

async function appLogging(env: Record<string, string>) {
  const lines: Array<{ msg?: string; peer?: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; peer?: string }));
      done();
    },
  });
  const app = await buildApp({ config: testConfig(env), sql: {} as RootSql, log: createLogger('warn', stream), adminToken: 'x' });
  app.get('/ip', async (request) => ({ ip: request.ip }));
  const warnings = () => lines.filter((l) => l.msg?.includes('TRUST_PROXY does not trust'));
  return { app, warnings };
}

describe('X-Forwarded-For from a peer', () => {
  it('not trusted: the peer\'s address counts, and it is said once per peer', async () => {
    const { app, warnings } = await appLogging({ TRUST_PROXY: '10.0.0.0/8' });
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '192.168.1.7', headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      expect(res.json().ip).toBe('192.168.1.7');
    }
    expect(warnings()).toEqual([expect.objectContaining({ peer: '192.168.1.7' })]);
    // A trusted peer's header names the client; nothing is said.
    const trusted = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(trusted.json().ip).toBe('203.0.113.9');
    expect(warnings()).toHaveLength(1);
    await app.close();
  });

  it('by default only loopback is trusted', async () => {
    const { app } = await appLogging({});
    const local = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } });
    expect(local.json().ip).toBe('203.0.113.5');
    const privateNet = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '172.17.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } });
    expect(privateNet.json().ip).toBe('172.17.0.1');
    await app.close();
  });
});
