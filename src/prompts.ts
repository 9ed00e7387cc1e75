/** Prompt texts live in prompts/ (versioned with the code) and are loaded once at start. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../prompts/', import.meta.url));
const cache = new Map<string, string>();

export function loadPrompt(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(`${DIR}${name}.md`, 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** Fills {{name}} placeholders; unknown placeholders are left visible so a typo shows in tests. */
export function renderPrompt(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

export function agentSystemPrompt(bot: { name: string; language: 'en' | 'ru'; companyPrompt: string; timezone?: string | undefined }, now = new Date()): string {
  const timezone = bot.timezone ?? 'UTC';
  const today = new Intl.DateTimeFormat(bot.language === 'ru' ? 'ru-RU' : 'en-US', { dateStyle: 'full', timeZone: timezone }).format(now);
  return renderPrompt(loadPrompt('agent-system'), {
    bot_name: bot.name,
    today,
    timezone,
    language_name: bot.language === 'ru' ? 'Russian' : 'English',
    company_prompt: bot.companyPrompt.trim() || '(none)',
  });
}
