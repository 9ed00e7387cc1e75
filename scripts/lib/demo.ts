/**
 * A demo company and bot for the simulator on a fresh server: created once through the admin API, with its
 * API key kept in DATA_DIR/demo-api-key (mode 0600) so later runs reuse them.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_NUMBER = '+15550100000';

/** Your own bot for `npm run call` (--to its number and --api-key your key, both), or null for the demo bot (neither). */
export function ownBot(to: string | undefined, apiKey: string | undefined): { to: string; apiKey: string } | null {
  if (to && apiKey) return { to, apiKey };
  if (to) throw new Error(`--to ${to} needs --api-key KEY (or PARLEY_API_KEY): a key of the company whose bot has that number`);
  if (apiKey) throw new Error('--api-key needs --to NUMBER, the number of your bot (without both, the demo bot is called)');
  return null;
}

export const DEMO_BOT_CONFIG = {
  greeting: 'Hello, thanks for calling Bright Smile Salon. How can I help you today?',
  systemPrompt: 'You are the receptionist of Bright Smile Salon. Help callers book haircuts and answer questions.',
  booking: {
    timezone: 'America/New_York',
    services: [
      { id: 'haircut', name: 'Haircut', durationMin: 30, price: 40, currency: 'USD' },
      { id: 'coloring', name: 'Coloring', durationMin: 90, price: 120, currency: 'USD' },
    ],
    resources: [{ id: 'anna', name: 'Anna', services: ['haircut', 'coloring'] }],
    hours: {
      mon: { open: '09:00', close: '18:00' }, tue: { open: '09:00', close: '18:00' }, wed: { open: '09:00', close: '18:00' },
      thu: { open: '09:00', close: '18:00' }, fri: { open: '09:00', close: '18:00' }, sat: { open: '10:00', close: '16:00' },
    },
  },
};

export function readSecretFile(dataDir: string, name: string): string | undefined {
  const path = join(dataDir, name);
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

export async function ensureDemoBot(server: string, dataDir: string, adminToken: string): Promise<{ apiKey: string; botId: string; number: string }> {
  let apiKey = readSecretFile(dataDir, 'demo-api-key');
  const api = async (path: string, init: RequestInit & { token: string }) => {
    const res = await fetch(`${server}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${init.token}` } });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body };
  };
  if (apiKey) {
    const bots = await api('/v1/bots', { method: 'GET', token: apiKey });
    const demo = (bots.body.data as Array<{ id: string; phone_number: string | null }> | undefined)?.find((b) => b.phone_number === DEMO_NUMBER);
    if (bots.status === 200 && demo) return { apiKey, botId: demo.id, number: DEMO_NUMBER };
  }
  const company = await api('/v1/admin/companies', { method: 'POST', token: adminToken, body: JSON.stringify({ name: 'Bright Smile Salon (demo)' }) });
  if (company.status !== 201) throw new Error(`could not create the demo company: ${JSON.stringify(company.body)}`);
  apiKey = (company.body.api_key as { key: string }).key;
  const bot = await api('/v1/bots', { method: 'POST', token: apiKey, body: JSON.stringify({ name: 'Demo receptionist', phone_number: DEMO_NUMBER, language: 'en', config: DEMO_BOT_CONFIG }) });
  if (bot.status !== 201) throw new Error(`could not create the demo bot: ${JSON.stringify(bot.body)}`);
  const botId = (bot.body as { id: string }).id;
  // A small FAQ, so questions have something to be answered from (the upload is ingested in the background).
  const form = new FormData();
  form.append('file', new Blob([readFileSync(new URL('./demo-faq.md', import.meta.url))], { type: 'text/markdown' }), 'faq.md');
  const upload = await fetch(`${server}/v1/bots/${botId}/knowledge`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
  if (upload.status !== 202) throw new Error(`could not upload the demo FAQ: ${upload.status} ${await upload.text()}`);
  const path = join(dataDir, 'demo-api-key');
  writeFileSync(path, `${apiKey}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { apiKey, botId, number: DEMO_NUMBER };
}
