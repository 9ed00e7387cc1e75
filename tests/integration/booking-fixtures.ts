/** Shared setup for the booking integration tests: a salon config, companies, bots and calls rows. */
import { DateTime } from 'luxon';
import type { BotConfig } from '../../src/bots/config-schema.js';
import type { BookingConfig } from '../../src/bookings/config-schema.js';
import type { CallContext, CallControl } from '../../src/call/tool-types.js';
import type { Db } from '../../src/db/sql.js';

export const ZONE = 'America/New_York';
export const at = (iso: string): number => DateTime.fromISO(iso, { zone: ZONE }).toMillis();

export const salon: BookingConfig = {
  timezone: ZONE,
  services: [
    { id: 'haircut', name: 'Haircut', aliases: ['стрижка'], durationMin: 60, price: 40, currency: 'USD' },
    { id: 'color', name: 'Coloring', aliases: ['окрашивание'], durationMin: 90, price: 120, currency: 'USD' },
  ],
  resources: [
    { id: 'anna', name: 'Anna', services: ['haircut', 'color'] },
    { id: 'boris', name: 'Boris', services: ['haircut'] },
  ],
  hours: {
    mon: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    tue: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    wed: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    thu: { open: '09:00', close: '17:00', breaks: [{ start: '12:00', end: '13:00' }] },
    fri: { open: '09:00', close: '17:00' },
  },
  slotGranularityMin: 30,
  leadTimeMin: 60,
  horizonDays: 60,
};

export const botConfig = (booking: BookingConfig = salon): BotConfig => ({ greeting: 'Hello!', systemPrompt: '', booking });

export async function seedCompany(db: Db, name: string, webhookUrl: string | null = null): Promise<string> {
  const [row] = await db`insert into companies (name, webhook_secret, webhook_url) values (${name}, 'whsec_dGVzdA==', ${webhookUrl}) returning id`;
  return row!.id as string;
}

export async function seedBot(db: Db, companyId: string, language: 'en' | 'ru' = 'en', config: BotConfig = botConfig()) {
  const [row] = await db`
    insert into bots (company_id, name, language, config) values (${companyId}, 'Salon', ${language}, ${db.json(config as never)})
    returning id`;
  return { id: row!.id as string, name: 'Salon', language, config };
}

export async function seedCall(db: Db, companyId: string, botId: string, from: string): Promise<string> {
  const [row] = await db`
    insert into calls (company_id, bot_id, direction, from_number, status) values (${companyId}, ${botId}, 'inbound', ${from}, 'in_progress')
    returning id`;
  return row!.id as string;
}

export function callContext(
  db: Db,
  companyId: string,
  bot: { id: string; name: string; language: 'en' | 'ru'; config: BotConfig },
  callId: string,
  callerNumber: string | null,
): CallContext {
  return { callId, botId: bot.id, companyId, callerNumber, bot };
}

export const noControl: CallControl = { endCall: () => {}, transferCall: async () => {} };
