/**
 * What the window check costs per dial decision: the scheduler finds each claimed contact's zones (zonesFor) and
 * whether the campaign's window is open in them (inWindow), then, outside it, the next opening (nextOpening).
 * Contacts without a time zone, numbers of one-zone and many-zone countries, landlines and mobiles.
 *
 * `npx tsx scripts/bench/callee-zones.ts` — CPU only, no database. Prints µs per contact, least and median of
 * BENCH_RUNS rounds (default 9) of every number in turn, so a busy machine's noise shows as the spread.
 */
import { DEFAULT_WINDOWS, inWindow, nextOpening, zonesFor } from '../../src/campaigns/windows.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const ROUND = 2_000;
const PHONES: Record<string, string[]> = {
  'US, CA landlines (212, 213, 808, 416, 604)': ['+12125550101', '+12135550101', '+18085550101', '+14165550101', '+16045550101'],
  'RU landlines and mobile (495, 423, 914)': ['+74951234567', '+74232123456', '+79141234567'],
  'AU landline and mobile (02, 08, 04)': ['+61292345678', '+61892345678', '+61412345678'],
  'one-zone countries (GB, FR, DE mobile)': ['+442079460000', '+33612345678', '+4915123456789'],
};
const AT = new Date('2026-03-09T14:00:00Z');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [label, phones] of Object.entries(PHONES)) {
  const contacts = phones.map((phone) => ({ phone, time_zone: null }));
  const decide = (c: (typeof contacts)[number]): unknown => {
    const zones = zonesFor(c);
    return inWindow(DEFAULT_WINDOWS, zones, AT) || nextOpening(DEFAULT_WINDOWS, zones, AT);
  };
  for (const c of contacts) decide(c); // warm
  const zonesOnly: number[] = [];
  const whole: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    for (let i = 0; i < ROUND; i++) zonesFor(contacts[i % contacts.length]!);
    zonesOnly.push(((performance.now() - t) * 1000) / ROUND);
    t = performance.now();
    for (let i = 0; i < ROUND / 4; i++) decide(contacts[i % contacts.length]!);
    whole.push(((performance.now() - t) * 1000) / (ROUND / 4));
  }
  console.log(`${label}: zonesFor ${Math.min(...zonesOnly).toFixed(1)} µs (median ${median(zonesOnly).toFixed(1)}), `
    + `zones + window + next opening ${Math.min(...whole).toFixed(0)} µs (median ${median(whole).toFixed(0)})`);
}
