/**
 * Route schemas are compiled on each route's first use (src/api/lazy-schema-compilers.ts), so a schema that cannot
 * compile no longer stops the server at start: it would fail its route's first request. This test is the check
 * start-up used to be: the whole server (every route group it mounts), then every validator and serializer
 * compiled — and a request validated and answered through the lazily compiled pair.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileEvery } from '../../src/api/lazy-schema-compilers.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';

const ADMIN = 'admin-rsc-0123456789abcdefghijklmnopqrstu';
const dataDir = `/tmp/parley-route-schemas-${process.pid}`;
let server: RunningServer;

beforeAll(async () => {
  server = await startServer(testConfig({ HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN }), createLogger('silent'), { port: 0 });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('route schemas compiled on first use', () => {
  it('a route validates and serializes through them', async () => {
    const bad = await server.app.inject({ method: 'POST', url: '/v1/admin/companies', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: 7 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { message: expect.stringContaining('name') } });
    const made = await server.app.inject({ method: 'POST', url: '/v1/admin/companies', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: 'Schemas Co' } });
    expect(made.statusCode).toBe(201);
    expect(made.json()).toMatchObject({ company: { name: 'Schemas Co' }, api_key: { key: expect.any(String) } });
  });

  it('every route of the whole server has schemas that compile', () => {
    // Hundreds: request parts and response codes of every route; each compiles or this throws its schema's error.
    expect(compileEvery()).toBeGreaterThan(300);
  });
});
