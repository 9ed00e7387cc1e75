import type { BotConfig } from '../bots/config-schema.js';
import type { Db } from './sql.js';

export interface BotRow {
  id: string;
  company_id: string;
  name: string;
  phone_number: string | null;
  language: 'en' | 'ru';
  config: BotConfig;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}

export async function insertBot(
  db: Db,
  bot: { companyId: string; name: string; phoneNumber: string | null; language: 'en' | 'ru'; config: BotConfig },
): Promise<BotRow> {
  const [row] = await db<BotRow[]>`
    insert into bots (company_id, name, phone_number, language, config)
    values (${bot.companyId}, ${bot.name}, ${bot.phoneNumber}, ${bot.language}, ${db.json(bot.config as never)})
    returning *`;
  return row!;
}

/** A page of the company's bots, newest first; `after` is the last row of the previous page. */
export async function listBots(
  db: Db,
  companyId: string,
  opts: { includeInactive: boolean; limit: number; after?: { createdAt: Date; id: string } },
): Promise<BotRow[]> {
  return db<BotRow[]>`
    select * from bots where company_id = ${companyId}
    ${opts.includeInactive ? db`` : db`and is_active`}
    ${opts.after ? db`and (created_at, id) < (${opts.after.createdAt}, ${opts.after.id})` : db``}
    order by created_at desc, id desc limit ${opts.limit}`;
}

/** How many bots the company has (deactivated ones too); call under the company's row lock to act on it. */
export async function countBots(db: Db, companyId: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`select count(*)::int as n from bots where company_id = ${companyId}`;
  return row!.n;
}

export async function getBot(db: Db, companyId: string, id: string): Promise<BotRow | undefined> {
  const [row] = await db<BotRow[]>`select * from bots where id = ${id} and company_id = ${companyId}`;
  return row;
}

export async function updateBot(
  db: Db,
  companyId: string,
  id: string,
  patch: { name?: string; phoneNumber?: string | null; language?: 'en' | 'ru'; config?: BotConfig; isActive?: boolean },
): Promise<BotRow | undefined> {
  const [row] = await db<BotRow[]>`
    update bots set
      name = ${patch.name === undefined ? db`name` : patch.name},
      phone_number = ${patch.phoneNumber === undefined ? db`phone_number` : patch.phoneNumber},
      language = ${patch.language === undefined ? db`language` : patch.language},
      config = ${patch.config === undefined ? db`config` : db.json(patch.config as never)},
      is_active = ${patch.isActive === undefined ? db`is_active` : patch.isActive},
      updated_at = now()
    where id = ${id} and company_id = ${companyId}
    returning *`;
  return row;
}

/** A company's bot, locked until the transaction ends (to decide a PATCH on its current state). */
export async function getBotForUpdate(db: Db, companyId: string, id: string): Promise<BotRow | undefined> {
  const [row] = await db<BotRow[]>`select * from bots where id = ${id} and company_id = ${companyId} for update`;
  return row;
}

/**
 * The bot answering a number, for routing an inbound call: the active bot of the (active) company that HOLDS the
 * number (phone_numbers). Ownership is the source of truth — a bot of any other company is never reached, even
 * if one somehow carried the number (the database refuses that too: bots_number_held_fkey).
 */
export async function findActiveBotByNumber(db: Db, phoneNumber: string): Promise<BotRow | undefined> {
  const [row] = await db<BotRow[]>`
    select b.* from phone_numbers p
    join companies c on c.id = p.company_id and c.is_active
    join bots b on b.company_id = p.company_id and b.phone_number = p.number and b.is_active
    where p.number = ${phoneNumber}`;
  return row;
}

/**
 * The bot a call is about to start with, by id alone (internal paths already authorised by a signed token), and
 * whether the call may start: the bot and its company both active — a disabled company neither takes calls
 * (findActiveBotByNumber) nor places them, however the call was set up before it was disabled.
 */
export async function getBotForCall(db: Db, id: string): Promise<{ bot: BotRow; callable: boolean } | undefined> {
  const [row] = await db<(BotRow & { company_is_active: boolean })[]>`
    select b.*, c.is_active as company_is_active from bots b join companies c on c.id = b.company_id where b.id = ${id}`;
  if (!row) return undefined;
  const { company_is_active: companyActive, ...bot } = row;
  return { bot, callable: bot.is_active && companyActive };
}

/** A bot by id alone — only for internal paths already authorised by a signed token. */
export async function getBotById(db: Db, id: string): Promise<BotRow | undefined> {
  const [row] = await db<BotRow[]>`select * from bots where id = ${id}`;
  return row;
}
