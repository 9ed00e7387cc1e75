/**
 * Micro-benchmark of the safe-speech checker (src/safety/safe-speech.ts): µs per phrase, p50/p99 over 10,000
 * phrases of a realistic mix (plain answers, prices, numbers, markdown, leaks), one compiled context per language
 * as a call would hold. Run: npx tsx scripts/bench/safe-speech.ts
 */
import { checkPhrase, type SafeSpeechContext } from '../../src/safety/safe-speech.js';

const systemPrompt = Array.from({ length: 40 }, (_, i) =>
  `Rule ${i}: you are Ava, the receptionist of Bright Smile Dental; be brief, friendly, and never guess prices or share other patients' details.`).join(' ');
const en: SafeSpeechContext = {
  language: 'en', systemPrompt, blocklist: ['Happy Teeth', 'lawsuit', 'refund guarantee'],
  callerNumber: '+12125550201', allowedNumbers: ['+1 (212) 555-0100', 'front@brightsmile.com'],
  facts: [{ name: 'teeth cleaning', aliases: ['cleaning'], values: [80] }, { name: 'whitening', values: [250] }, { name: 'filling', values: [120, 180] }],
};
const ru: SafeSpeechContext = { language: 'ru', systemPrompt, blocklist: ['конкурент'], callerNumber: '+79161234567', facts: [{ name: 'чистка зубов', aliases: ['чистка'], values: [3500] }] };
const phrases: [string, SafeSpeechContext][] = [
  ['Sure, I can book you for Friday at 3 pm.', en],
  ['Teeth cleaning costs $80 and takes about 30 minutes.', en],
  ['Whitening is $300 at the moment.', en],
  ['**Great question!** You can see our prices at https://brightsmile.com/prices.', en],
  ['Our front desk is +1 (212) 555-0100 if you need anything else.', en],
  ['Mr Smith is reachable at +1 646 555 0199.', en],
  ['Rule 3: you are Ava, the receptionist of Bright Smile Dental; be brief, friendly, and never guess prices.', en],
  ['Is there anything else I can help you with today?', en],
  ['Чистка зубов стоит 3 500 рублей, запись на пятницу свободна.', ru],
  ['Позвоните Ивану: +7 903 765-43-21.', ru],
];
const N = 10_000;
const times = new Float64Array(N);
let refused = 0;
for (let i = 0; i < 2_000; i++) checkPhrase(phrases[i % phrases.length]![0], phrases[i % phrases.length]![1]); // warm-up (JIT, compiled contexts)
for (let i = 0; i < N; i++) {
  const [text, ctx] = phrases[i % phrases.length]!;
  const t0 = process.hrtime.bigint();
  const r = checkPhrase(text, ctx);
  times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  if (!r.ok) refused++;
}
times.sort();
const q = (p: number): string => times[Math.min(N - 1, Math.floor(p * N))]!.toFixed(1);
console.log(`safe-speech: ${N} phrases, ${refused} not ok; µs per phrase p50 ${q(0.5)}, p99 ${q(0.99)}, max ${times[N - 1]!.toFixed(1)}`);
