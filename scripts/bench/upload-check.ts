/**
 * How long a campaign upload holds the event loop that carries calls: the longest gap between 1 ms ticks of a
 * timer on the main thread while one contact list is parsed and checked, on the loop itself (checkUpload, as
 * before) and on a thread of its own (checkUploadOffLoop, what the routes do). `npx tsx scripts/bench/upload-check.ts`;
 * under tsx the thread also loads tsx, which lengthens the off-loop wall time, not the loop's stall. What stall is
 * left off the loop is the thread's start and the checked rows coming back (structured clone).
 */
import { checkUpload, checkUploadOffLoop, type UploadCheckTask } from '../../src/campaigns/upload-check.js';

async function worstGap(work: () => unknown): Promise<{ gapMs: number; wallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  last = t0;
  worst = 0;
  await work();
  const wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { gapMs: worst, wallMs };
}

const rows = Array.from({ length: 10_000 }, (_, i) => `+1415555${String(i).padStart(4, '0')},Name ${i},City ${i % 50},granted`);
const task: UploadCheckTask = { kind: 'contacts-csv', csv: ['phone,name,city,consent_voice', ...rows].join('\n'), defaultCountry: 'US' };
for (let run = 1; run <= 3; run++) {
  const on = await worstGap(() => checkUpload(task));
  const off = await worstGap(() => checkUploadOffLoop(task));
  console.log(`10,000-contact CSV (${(task.csv.length / 1e6).toFixed(2)} MB), run ${run}: on the loop — longest stall ${on.gapMs.toFixed(1)} ms; ` +
    `on its own thread — longest stall ${off.gapMs.toFixed(1)} ms (wall ${off.wallMs.toFixed(0)} ms, thread start included)`);
}
