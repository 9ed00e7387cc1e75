/** POST /v1/webhooks/test: one signed test event to the configured URL, now, recorded like any delivery. */
import type { RootSql } from '../db/sql.js';
import { badRequest } from '../errors.js';
import { loadCompanyWebhook } from './company-settings.js';
import { sendSigned } from './deliver.js';
import { eventBody, newEventId, TEST_EVENT_TYPE } from './emit.js';
import type { PostResult, WebhookHttpClient } from './http-post.js';
import { insertAttempt } from './outbox.js';
import { isSuccess } from './retry-policy.js';

export interface TestDeliveryResult {
  event_id: string;
  delivered: boolean;
  url: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

export async function sendTestEvent(sql: RootSql, client: WebhookHttpClient, companyId: string): Promise<TestDeliveryResult> {
  const company = await loadCompanyWebhook(sql, companyId);
  if (!company?.url) throw badRequest('No webhook URL is configured for this company');
  const id = newEventId();
  const body = JSON.stringify(eventBody(id, TEST_EVENT_TYPE, companyId, { message: 'This is a test event from Parley.' }));
  const result: PostResult = await sendSigned(client, { ...company, url: company.url }, id, body);
  const delivered = isSuccess(result.statusCode);
  // Test events are never retried: they end delivered or dead with their single attempt.
  await sql.begin(async (tx) => {
    await tx`
      insert into webhook_events (id, company_id, type, body, status, attempts, last_status_code, last_error, delivered_at)
      values (${id}, ${companyId}, ${TEST_EVENT_TYPE}, ${body}, ${delivered ? 'delivered' : 'dead'}, 1, ${result.statusCode}, ${result.error},
              ${delivered ? new Date() : null})`;
    await insertAttempt(tx, id, companyId, 1, company.url!, result);
  });
  return { event_id: id, delivered, url: company.url, status_code: result.statusCode, latency_ms: result.latencyMs, error: result.error };
}
