/** A company with a bot that has a phone number of its own: what the campaign scheduler needs to dial for it. */
import type { RootSql } from '../../../src/db/sql.js';

export async function insertDialingCompany(sql: RootSql, number = '+15557770001'): Promise<{ companyId: string; botId: string }> {
  const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Bench', 'whsec_bench') returning id`;
  const companyId = company!.id;
  await sql`insert into phone_numbers (number, company_id, claimed_at) values (${number}, ${companyId}, now())`;
  const [bot] = await sql<{ id: string }[]>`
    insert into bots (company_id, name, phone_number, language, config)
    values (${companyId}, 'Ava', ${number}, 'en', ${sql.json({ greeting: 'Hi', systemPrompt: 'x' })}) returning id`;
  return { companyId, botId: bot!.id };
}
