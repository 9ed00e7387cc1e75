/**
 * A deploy (SIGTERM's path, server.stop()) while a webhook delivery is in flight: the stopping server gives the
 * delivery back, so the next server on the database sends it at once instead of after its lease (the webhook
 * timeout plus 30 s). The receiver sees the cut-short request and then the delivery, both with the event's id,
 * and the event is delivered once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { recordEvent } from '../../src/webhooks/emit.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { FakeReceiver } from '../fakes/fakeReceiver.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';
import { until } from '../helpers/until.js';

// A minute per attempt: the lease (timeout + 30 s) outlasts the test, so only the stop's give-back frees the event.
const config = testConfig({
  HOST: '127.0.0.1', ADMIN_TOKEN: 'admin-ws-0123456789abcdefghijklmnopqrstu', WORKERS_ENABLED: 'true',
  WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '60000', SHUTDOWN_TIMEOUT_MS: '200',
});

describe('webhook deliveries across a deploy', () => {
  let db: TestDatabase;
  let receiver: FakeReceiver;
  const servers: RunningServer[] = [];

  beforeAll(async () => {
    db = await createTestDb();
    receiver = await FakeReceiver.start();
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await receiver?.close();
    await db?.close();
  });

  it('a server stopped mid-delivery hands the event to the next server at once; delivered once, same id', async () => {
    const [acme] = await db.sql<{ id: string }[]>`
      insert into companies (name, webhook_url, webhook_secret) values ('Deploy Co', ${receiver.url}, ${generateWebhookSecret()}) returning id`;
    receiver.behaviour = (_r, i) => (i === 0 ? { hang: true } : { status: 200 });
    const id = (await recordEvent(db.sql, { companyId: acme!.id, type: 'call.ended', data: { call_id: 'c1' }, orderingKey: 'c1' }))!;

    const old = await startServer(config, createLogger('silent'), { port: 0, database: db });
    await receiver.waitForRequests(1);
    await old.stop();
    const [row] = await db.sql<{ status: string; attempts: number; locked_until: Date | null }[]>`
      select status, attempts, locked_until from webhook_events where id = ${id}`;
    expect(row).toEqual({ status: 'pending', attempts: 0, locked_until: null });

    servers.push(await startServer(config, createLogger('silent'), { port: 0, database: db }));
    await until(async () => (await db.sql`select 1 from webhook_events where id = ${id} and status = 'delivered'`).length > 0);
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([id, id]);
    expect(receiver.delivered()).toHaveLength(1);
  });
});
