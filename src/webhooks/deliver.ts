/** Signs and sends one event body to a company's URL (shared by the outbox worker and the test endpoint). */
import { signingSecrets, type CompanyWebhook } from './company-settings.js';
import type { PostResult, WebhookHttpClient } from './http-post.js';
import { signedHeaders } from './signing.js';

export function sendSigned(
  client: WebhookHttpClient,
  company: CompanyWebhook & { url: string },
  eventId: string,
  body: string,
  signal?: AbortSignal,
): Promise<PostResult> {
  const now = new Date();
  // A fresh timestamp per attempt: receivers reject stale timestamps, and the id stays the same for dedup.
  const headers = signedHeaders(signingSecrets(company, now), eventId, Math.floor(now.getTime() / 1000), body);
  return client.post(company.url, { ...headers }, body, signal);
}
