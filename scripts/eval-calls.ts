/**
 * `npm run eval:calls` — a conversation suite, not a timed test. Starts the real server (embedded database, local
 * providers, scenario engine) in a temporary DATA_DIR, creates an English handyman bot and a Russian salon bot,
 * and runs scripted conversations over the web-call transport: every script as typed text, and the English ones
 * also as flite-spoken audio through the local recognizer. Each call is judged by the database — the booking made
 * (service, local time, name), the booking moved or cancelled, the lead's fields, the outcome type — and the
 * script prints the success rate per language, mode and path.
 *
 *   npm run eval:calls              # typed (en + ru) and spoken (en)
 *   npm run eval:calls -- --typed   # typed only
 *   npm run eval:calls -- --spoken  # spoken (en) only
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { testConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { runWebCall } from './call-web.js';

type Lang = 'en' | 'ru';
type Path = 'book' | 'correct' | 'taken' | 'cancel' | 'reschedule' | 'question' | 'lead' | 'dates';

interface Expect {
  booking?: { service: string; day: number; time: string; name: string };
  moved?: { day: number; time: string };
  cancelled?: boolean;
  lead?: { phone: string; name?: string };
  outcome?: string;
  answer?: RegExp;
}

interface Script {
  lang: Lang;
  path: Path;
  lines: string[];
  expect: Expect;
  /** A booking to create first (for the caller's phone and name: a web call has no caller ID), days ahead and local time. */
  seed?: { service: string; day: number; time: string; phone: string; name: string };
  /** A time to block first (taken-slot scripts). */
  block?: { service: string; day: number; time: string };
}

const ADMIN = 'eval-admin-token-0123456789abcdefghijkl';
const HOURS = { open: '08:00', close: '20:00' };
const WEEK = { mon: HOURS, tue: HOURS, wed: HOURS, thu: HOURS, fri: HOURS, sat: HOURS, sun: HOURS };

const EN_BOT = {
  greeting: 'Hi, this is Handy Helpers. How can I help?',
  booking: {
    timezone: 'America/New_York',
    services: [
      { id: 'tv', name: 'TV mounting', aliases: ['TV on the wall', 'TV mounted'], durationMin: 60, price: 90, currency: 'USD' },
      { id: 'tap', name: 'Tap repair', aliases: ['leaky faucet', 'faucet'], durationMin: 60, price: 80, currency: 'USD' },
      { id: 'shelf', name: 'Shelf installation', aliases: ['shelves'], durationMin: 60, price: 60, currency: 'USD' },
    ],
    resources: [{ id: 'mike', name: 'Mike', services: ['tv', 'tap', 'shelf'] }],
    hours: WEEK, slotGranularityMin: 30, leadTimeMin: 60,
  },
};
const RU_BOT = {
  greeting: 'Здравствуйте, салон «Лайм». Чем могу помочь?',
  booking: {
    timezone: 'Europe/Moscow',
    services: [
      { id: 'haircut', name: 'Стрижка', aliases: ['подстричься', 'стрижку'], durationMin: 60 },
      { id: 'manicure', name: 'Маникюр', durationMin: 60 },
      { id: 'color', name: 'Окрашивание', aliases: ['покраска волос'], durationMin: 60 },
    ],
    resources: [{ id: 'olga', name: 'Ольга', services: ['haircut', 'manicure', 'color'] }],
    hours: WEEK, slotGranularityMin: 15, leadTimeMin: 60,
  },
};
const FAQ = {
  en: 'Cancellation policy\n\nYou can cancel or reschedule free of charge up to 24 hours before the visit. Later cancellations cost 20 dollars.\n\nOpening hours\n\nWe work every day from 8 am to 8 pm.\n',
  ru: 'Правила отмены\n\nОтменить или перенести запись можно бесплатно за 24 часа до визита. При отмене позже взимается штраф 500 рублей.\n\nЧасы работы\n\nМы работаем каждый день с 8 до 20.\n',
};

const en = (path: Path, lines: string[], expect: Expect, extra: Partial<Script> = {}): Script => ({ lang: 'en', path, lines, expect, ...extra });
const ru = (path: Path, lines: string[], expect: Expect, extra: Partial<Script> = {}): Script => ({ lang: 'ru', path, lines, expect, ...extra });

/**
 * Days from today (in `zone`) to a weekday a week after its next one (1 = Monday): "the Tuesday after next", "a week
 * on Friday", "во вторник через неделю".
 */
const weekdayWeekOn = (zone: string, weekday: number): number => {
  const today = DateTime.now().setZone(zone).weekday;
  return ((weekday - today + 7) % 7 || 7) + 7;
};

const SCRIPTS: Script[] = [
  en('book', ["Hi, I'd like to get my TV mounted on the wall", 'Tomorrow at ten in the morning please', 'My name is John Smith', 'five five five two one two three four five six', 'Yes please'],
    { booking: { service: 'tv', day: 1, time: '10:00', name: 'John Smith' }, outcome: 'booking' }),
  en('book', ['I need a tap repair', 'the day after tomorrow at 2 pm', 'Anna Lee', '212 555 0100', 'yes'],
    { booking: { service: 'tap', day: 2, time: '14:00', name: 'Anna Lee' }, outcome: 'booking' }),
  en('book', ['My name is Bob Stone and I want to book a shelf installation tomorrow at noon', 'my number is 646 555 0199', 'correct'],
    { booking: { service: 'shelf', day: 1, time: '12:00', name: 'Bob Stone' }, outcome: 'booking' }),
  en('book', ['Can I book a leaky faucet repair?', 'tomorrow at half past three', 'Kate Brown', 'three one two five five five zero one two three', 'yes that is right'],
    { booking: { service: 'tap', day: 1, time: '15:30', name: 'Kate Brown' }, outcome: 'booking' }),
  en('book', ['I would like to book an appointment', 'TV mounting', 'tomorrow at 4 pm', 'This is Tom Hardy', '718 555 0111', 'yes'],
    { booking: { service: 'tv', day: 1, time: '16:00', name: 'Tom Hardy' }, outcome: 'booking' }),
  en('correct', ['Book a tap repair tomorrow at 10 am', 'Lisa Ray', '415 555 0123', 'No, eleven', 'Yes'],
    { booking: { service: 'tap', day: 1, time: '11:00', name: 'Lisa Ray' }, outcome: 'booking' }),
  en('correct', ['I want TV mounting tomorrow at 9 am, my name is Sam Wood', '305 555 0188', 'no', 'make it 1 pm', 'yes'],
    { booking: { service: 'tv', day: 1, time: '13:00', name: 'Sam Wood' }, outcome: 'booking' }),
  en('taken', ['I need a shelf installation tomorrow at 2 pm', 'the second one', 'Nina Gold', '202 555 0147', 'yes'],
    { booking: { service: 'shelf', day: 1, time: 'offered', name: 'Nina Gold' }, outcome: 'booking' }, { block: { service: 'shelf', day: 1, time: '14:00' } }),
  en('cancel', ['I need to cancel my appointment', '917 555 0134', 'Anna Lee', 'yes'], { cancelled: true },
    { seed: { service: 'tap', day: 3, time: '11:00', phone: '+19175550134', name: 'Anna Lee' } }),
  en('cancel', ['Please cancel my booking', 'nine one seven five five five zero one three five', 'Kate Brown', 'yes please'], { cancelled: true },
    { seed: { service: 'tv', day: 2, time: '15:00', phone: '+19175550135', name: 'Kate Brown' } }),
  en('reschedule', ['I want to reschedule my appointment', '917 555 0136', 'John Smith', 'tomorrow at 5 pm', 'yes'], { moved: { day: 1, time: '17:00' } },
    { seed: { service: 'tap', day: 3, time: '10:00', phone: '+19175550136', name: 'John Smith' } }),
  en('reschedule', ['Can I move my booking to another time?', '917 555 0137', 'Maria Lopez', 'the day after tomorrow at nine in the morning', 'yes'], { moved: { day: 2, time: '09:00' } },
    { seed: { service: 'shelf', day: 4, time: '12:00', phone: '+19175550137', name: 'Maria Lopez' } }),
  en('question', ['What happens if I cancel at the last minute?', 'Thanks, goodbye'], { answer: /24 hours|20 dollars/, outcome: 'support' }),
  en('question', ['What are your opening hours?', 'Okay, bye'], { answer: /8 am to 8 pm/, outcome: 'support' }),
  en('lead', ['Do you install solar panels?', 'Maria Lopez', '212 555 0142', 'No thanks, bye'], { lead: { phone: '2125550142', name: 'Maria Lopez' }, outcome: 'lead' }),
  en('lead', ['Hello there', 'Do you fix garage doors?', 'Peter Pan', 'four one five five five five zero one nine nine', 'bye'], { lead: { phone: '4155550199', name: 'Peter Pan' }, outcome: 'lead' }),

  ru('book', ['Здравствуйте, хочу записаться на маникюр', 'Завтра в три часа дня', 'Меня зовут Анна', '+7 916 123 45 67', 'Да, всё верно'],
    { booking: { service: 'manicure', day: 1, time: '15:00', name: 'Анна' }, outcome: 'booking' }),
  ru('book', ['Запишите меня на стрижку послезавтра в полдень', 'Ольга Петрова', 'восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят восемь', 'да'],
    { booking: { service: 'haircut', day: 2, time: '12:00', name: 'Ольга Петрова' }, outcome: 'booking' }),
  ru('book', ['Хочу подстричься завтра без четверти пять', 'Меня зовут Ирина', '916 555 12 34', 'да'],
    { booking: { service: 'haircut', day: 1, time: '16:45', name: 'Ирина' }, outcome: 'booking' }),
  ru('book', ['Можно записаться на окрашивание?', 'завтра в 11 утра', 'Мария', '9165551235', 'подтверждаю'],
    { booking: { service: 'color', day: 1, time: '11:00', name: 'Мария' }, outcome: 'booking' }),
  ru('book', ['Я хочу записаться', 'маникюр', 'послезавтра в половине третьего', 'Это Светлана', '916 555 12 36', 'да'],
    { booking: { service: 'manicure', day: 2, time: '14:30', name: 'Светлана' }, outcome: 'booking' }),
  ru('correct', ['Запишите на маникюр завтра в 10, меня зовут Дарья', '916 555 12 37', 'Нет, в одиннадцать', 'Да'],
    { booking: { service: 'manicure', day: 1, time: '11:00', name: 'Дарья' }, outcome: 'booking' }),
  ru('correct', ['Хочу на стрижку завтра в 12, я Елена', '916 555 12 38', 'нет', 'в 14:30', 'да'],
    { booking: { service: 'haircut', day: 1, time: '14:30', name: 'Елена' }, outcome: 'booking' }),
  ru('taken', ['Запишите на окрашивание завтра в 15:00', 'первый', 'Алина', '916 555 12 39', 'да'],
    { booking: { service: 'color', day: 1, time: 'offered', name: 'Алина' }, outcome: 'booking' }, { block: { service: 'color', day: 1, time: '15:00' } }),
  ru('cancel', ['Хочу отменить запись', '916 555 00 01', 'Анна', 'да'], { cancelled: true },
    { seed: { service: 'haircut', day: 3, time: '11:00', phone: '+79165550001', name: 'Анна' } }),
  ru('cancel', ['Отмените, пожалуйста, мою запись', 'девять один шесть пять пять пять ноль ноль ноль два', 'Ольга', 'да, отменяйте'], { cancelled: true },
    { seed: { service: 'manicure', day: 2, time: '13:00', phone: '+79165550002', name: 'Ольга' } }),
  ru('reschedule', ['Мне нужно перенести запись', '916 555 00 03', 'Ирина', 'через неделю в 11', 'да'], { moved: { day: 7, time: '11:00' } },
    { seed: { service: 'haircut', day: 2, time: '10:00', phone: '+79165550003', name: 'Ирина' } }),
  ru('reschedule', ['Можно перенести мою запись на другое время?', '916 555 00 04', 'Мария', 'завтра в полдень', 'да'], { moved: { day: 1, time: '12:00' } },
    { seed: { service: 'color', day: 3, time: '16:00', phone: '+79165550004', name: 'Мария' } }),
  ru('question', ['Что будет, если я отменю запись в последний момент?', 'Спасибо, до свидания'], { answer: /24 часа|500 рублей/, outcome: 'support' }),
  // Dates as callers say them: a length of time ahead, a weekday after next, 24-hour clocks written other ways, and
  // a date past how far ahead bookings are taken (60 days: the horizon said, never "didn't catch that").
  en('dates', ['I need a tap repair', 'in three weeks at 10 am', 'Anna Lee', '212 555 0100', 'yes'],
    { booking: { service: 'tap', day: 21, time: '10:00', name: 'Anna Lee' }, outcome: 'booking' }),
  en('dates', ['Book a shelf installation', 'the Tuesday after next at 11 am', 'Bob Stone', '646 555 0199', 'yes'],
    { booking: { service: 'shelf', day: weekdayWeekOn(EN_BOT.booking.timezone, 2), time: '11:00', name: 'Bob Stone' }, outcome: 'booking' }),
  en('dates', ['I want TV mounting tomorrow at 1700', 'John Smith', '718 555 0111', 'yes'],
    { booking: { service: 'tv', day: 1, time: '17:00', name: 'John Smith' }, outcome: 'booking' }),
  en('dates', ['I need a tap repair', 'in a year', 'Okay, thanks, bye'], { answer: /up to 60 days ahead/ }),
  // British idioms: half past said as "half three", a weekday a week on.
  en('dates', ['Book a shelf installation tomorrow at half three', 'Kate Brown', '312 555 0123', 'yes'],
    { booking: { service: 'shelf', day: 1, time: '15:30', name: 'Kate Brown' }, outcome: 'booking' }),
  en('dates', ['I need a tap repair', 'a week on Friday at 10 am', 'Tom Hardy', '718 555 0112', 'yes'],
    { booking: { service: 'tap', day: weekdayWeekOn(EN_BOT.booking.timezone, 5), time: '10:00', name: 'Tom Hardy' }, outcome: 'booking' }),
  ru('dates', ['Хочу на маникюр', 'через три недели в 17-00', 'Анна', '916 555 12 40', 'да'],
    { booking: { service: 'manicure', day: 21, time: '17:00', name: 'Анна' }, outcome: 'booking' }),
  ru('dates', ['Запишите на стрижку завтра в полпятого', 'Ирина', '916 555 12 41', 'да'],
    { booking: { service: 'haircut', day: 1, time: '16:30', name: 'Ирина' }, outcome: 'booking' }),
  ru('dates', ['Хочу на окрашивание', 'через полгода', 'Спасибо, до свидания'], { answer: /не дальше чем на 60 дней/ }),
  ru('dates', ['Хочу на маникюр', 'во вторник через неделю в 15:00', 'Алина', '916 555 12 42', 'да'],
    { booking: { service: 'manicure', day: weekdayWeekOn(RU_BOT.booking.timezone, 2), time: '15:00', name: 'Алина' }, outcome: 'booking' }),
  ru('lead', ['Вы делаете татуировки?', 'Светлана', 'девять один шесть пять пять пять один два три четыре', 'Нет, спасибо, до свидания'], { lead: { phone: '9165551234', name: 'Светлана' }, outcome: 'lead' }),
];

interface Row { lang: Lang; mode: 'typed' | 'spoken'; path: Path; ok: boolean; why: string; transcript?: string }

async function main(): Promise<void> {
  const typedOnly = process.argv.includes('--typed');
  const spokenOnly = process.argv.includes('--spoken');
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-eval-'));
  const config = testConfig({ ADMIN_TOKEN: ADMIN, DATA_DIR: dataDir, WORKERS_ENABLED: 'true' });
  const server = await startServer(config, createLogger('silent'), { port: 0 });
  const api = async (key: string, method: string, url: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${server.url}${url}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const rows: Row[] = [];
  try {
    const company = await api(ADMIN, 'POST', '/v1/admin/companies', { name: 'Eval' });
    const key = (company.api_key as { key: string }).key;
    const bots: Record<Lang, string> = {
      en: (await api(key, 'POST', '/v1/bots', { name: 'Handy Helpers', language: 'en', config: EN_BOT })).id as string,
      ru: (await api(key, 'POST', '/v1/bots', { name: 'Лайм', language: 'ru', config: RU_BOT })).id as string,
    };
    for (const lang of ['en', 'ru'] as const) {
      const form = new FormData();
      form.append('file', new Blob([FAQ[lang]], { type: 'text/markdown' }), `faq-${lang}.md`);
      await fetch(`${server.url}/v1/bots/${bots[lang]}/knowledge`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    }
    await new Promise((r) => setTimeout(r, 3000)); // ingestion

    const zone = (lang: Lang) => (lang === 'en' ? EN_BOT : RU_BOT).booking.timezone;
    const localAt = (lang: Lang, day: number, time: string) => {
      const [h, m] = time.split(':').map(Number);
      return DateTime.now().setZone(zone(lang)).startOf('day').plus({ days: day }).set({ hour: h, minute: m });
    };
    const modes: Array<'typed' | 'spoken'> = typedOnly ? ['typed'] : spokenOnly ? ['spoken'] : ['typed', 'spoken'];
    for (const mode of modes) {
      for (const s of SCRIPTS) {
        if (mode === 'spoken' && s.lang !== 'en') continue;
        const created: string[] = [];
        let seeded: string | null = null;
        try {
          if (s.block) {
            const b = await api(key, 'POST', '/v1/bookings', { bot_id: bots[s.lang], service_id: s.block.service, start: localAt(s.lang, s.block.day, s.block.time).toISO(), customer_name: 'Blocker', customer_phone: '+12025550000' });
            created.push(b.id as string);
          }
          if (s.seed) {
            const b = await api(key, 'POST', '/v1/bookings', { bot_id: bots[s.lang], service_id: s.seed.service, start: localAt(s.lang, s.seed.day, s.seed.time).toISO(), customer_name: s.seed.name, customer_phone: s.seed.phone });
            seeded = b.id as string;
            created.push(seeded);
          }
          const result = await runWebCall({ server: server.url, apiKey: key, botId: bots[s.lang], text: s.lines, typed: mode === 'typed',
            // Spoken audio at the pace it is spoken: the server takes a web caller's audio no faster than real time
            // (after a 5 s burst) and drops the rest, as it would a flood.
            realtime: mode === 'spoken', print: () => {}, turnTimeoutMs: 20_000 });
          const why = await judge(s, result.callId, seeded, result.transcript.filter((t) => t.role === 'bot').map((t) => t.text).join(' '));
          // Each script starts from the same calendar: what this call booked is cancelled afterwards.
          const made = (await api(key, 'GET', `/v1/bookings?call_id=${result.callId}&limit=10`)).data as Array<{ id: string }>;
          created.push(...made.map((b) => b.id));
          rows.push({ lang: s.lang, mode, path: s.path, ok: why === '', why, transcript: result.transcript.map((t) => `    ${t.role}: ${t.text}`).join('\n') });
        } catch (err) {
          rows.push({ lang: s.lang, mode, path: s.path, ok: false, why: `error: ${String(err).slice(0, 120)}` });
        }
        for (const id of created) await api(key, 'POST', `/v1/bookings/${id}/cancel`, { reason: 'eval cleanup' }).catch(() => {});
      }
    }

    async function judge(s: Script, callId: string, seeded: string | null, botText: string): Promise<string> {
      const e = s.expect;
      if (e.booking) {
        const list = (await api(key, 'GET', `/v1/bookings?call_id=${callId}&limit=10`)).data as Array<Record<string, unknown>>;
        const b = list.find((x) => x.status === 'confirmed');
        if (!b) return 'no booking';
        if (b.service_id !== e.booking.service) return `service ${String(b.service_id)}`;
        const start = DateTime.fromISO(b.start as string).setZone(zone(s.lang));
        if (e.booking.time === 'offered') {
          // Taken-slot scripts: one of the offered alternatives, the same day, never the blocked time.
          const blocked = localAt(s.lang, s.block!.day, s.block!.time);
          if (start.toMillis() === blocked.toMillis() || start.toISODate() !== blocked.toISODate()) return `time ${String(b.start)}`;
        } else if (start.toMillis() !== localAt(s.lang, e.booking.day, e.booking.time).toMillis()) return `time ${String(b.start)}`;
        if (String(b.customer_name).toLowerCase() !== e.booking.name.toLowerCase()) return `name ${String(b.customer_name)}`;
      }
      if (e.cancelled && seeded) {
        const b = await api(key, 'GET', `/v1/bookings/${seeded}`);
        if (b.status !== 'cancelled') return `status ${String(b.status)}`;
      }
      if (e.moved && seeded) {
        const b = await api(key, 'GET', `/v1/bookings/${seeded}`);
        if (DateTime.fromISO(b.start as string).toMillis() !== localAt(s.lang, e.moved.day, e.moved.time).toMillis()) return `moved to ${String(b.start)}`;
      }
      if (e.answer && !e.answer.test(botText)) return 'answer';
      if (e.outcome || e.lead) {
        let outcome: Record<string, unknown> | null = null;
        for (let i = 0; i < 40 && !outcome; i++) {
          outcome = (await api(key, 'GET', `/v1/calls/${callId}`)).outcome as Record<string, unknown> | null;
          if (!outcome) await new Promise((r) => setTimeout(r, 250));
        }
        if (!outcome) return 'no outcome';
        if (e.outcome && outcome.outcome_type !== e.outcome) return `outcome ${String(outcome.outcome_type)}`;
        if (e.lead) {
          const x = outcome.extracted_data as Record<string, unknown>;
          if (!String(x.client_phone ?? '').replace(/\D/g, '').endsWith(e.lead.phone)) return `lead phone ${String(x.client_phone)}`;
          if (e.lead.name && String(x.client_name ?? '').toLowerCase() !== e.lead.name.toLowerCase()) return `lead name ${String(x.client_name)}`;
        }
      }
      return '';
    }
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const pct = (r: Row[]) => (r.length ? `${Math.round((100 * r.filter((x) => x.ok).length) / r.length)} %` : '—');
  const table: string[] = ['| language | mode | path | passed | rate |', '|---|---|---|---|---|'];
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.lang}|${r.mode}|${r.path}`, [...(groups.get(`${r.lang}|${r.mode}|${r.path}`) ?? []), r]);
  for (const [k, r] of groups) {
    const [lang, mode, path] = k.split('|');
    table.push(`| ${lang} | ${mode} | ${path} | ${r.filter((x) => x.ok).length}/${r.length} | ${pct(r)} |`);
  }
  for (const lang of ['en', 'ru'] as const) for (const mode of ['typed', 'spoken'] as const) {
    const r = rows.filter((x) => x.lang === lang && x.mode === mode);
    if (r.length) table.push(`| **${lang}** | **${mode}** | **all** | **${r.filter((x) => x.ok).length}/${r.length}** | **${pct(r)}** |`);
  }
  console.log(table.join('\n'));
  const failed = rows.filter((r) => !r.ok);
  if (failed.length) console.log(`\nFailures:\n${failed.map((r) => `- ${r.lang} ${r.mode} ${r.path}: ${r.why}${process.argv.includes('--verbose') && r.transcript ? `\n${r.transcript}` : ''}`).join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
