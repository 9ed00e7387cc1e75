import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const METRICS_TOKEN = 'metrics-token-0123456789-abcdefghijklmnop';

describe('/metrics with METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_TOKEN } });
  });
  afterAll(async () => t?.close());

  it('answers only a scrape that carries the token as its bearer token: 401 otherwise, with none of the figures', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${METRICS_TOKEN}`, `Bearer ${METRICS_TOKEN}x`, `Bearer ${t.config.ADMIN_TOKEN}`]) {
      const res = await t.app.inject({ url: '/metrics', headers: authorization ? { authorization } : {} });
      expect(res.statusCode, authorization ?? 'no header').toBe(401);
      expect(res.body).not.toContain('parley_');
      expect(res.json().error.code).toBe('PARLEY_ERR_UNAUTHORIZED');
    }
    const ok = await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('parley_http_request_duration_seconds');
  });

  it('leaves health and readiness open (a balancer probes them without credentials)', async () => {
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('refuses a short token at start, naming the setting and never its value', () => {
    let err: unknown;
    try {
      loadConfig({ METRICS_TOKEN: 'short-secret-value' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toContain('METRICS_TOKEN');
    expect(String((err as Error).message)).not.toContain('short-secret-value');
  });
});
