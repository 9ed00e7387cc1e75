/**
 * What storing a long call's transcript costs the database: one call, `--turns` turns appended one by one with
 * the live call's own write (src/call/lifecycle.ts appendTurn: a row per turn in call_turns since migration 0160;
 * before it, `transcript = transcript || [turn]` on the call's row), as a session writes them. Prints, per stretch of turns, the time of one append (the server's side of the
 * caller's turn being stored) and the WAL it wrote (PostgreSQL only), against the bytes of the turns themselves.
 *
 *   npx tsx scripts/bench/transcript-append.ts [--turns 2000] [--turn-chars 150] [--database-url postgres://…]
 * Without --database-url (or DATABASE_URL): an in-memory PGlite. A real server's database is created and dropped.
 */
import { parseArgs } from 'node:util';
import { appendTurn, createCall } from '../../src/call/lifecycle.js';
import { createTestDb, usingRealPostgres } from '../../tests/helpers/db.js';

const { values } = parseArgs({
  options: {
    turns: { type: 'string', default: '2000' },
    'turn-chars': { type: 'string', default: '150' },
    'database-url': { type: 'string' },
  },
});
if (values['database-url']) process.env.DATABASE_URL = values['database-url'];
const TURNS = Number(values.turns);
const CHARS = Number(values['turn-chars']);
const STRETCH = Math.max(1, Math.floor(TURNS / 10));

/** Words in no pattern (a fixed pseudo-random sequence): TOAST compresses them about as it does speech, not as a run of one letter. */
const WORDS = 'the a to and of you we can on for your at is it book time free this Tuesday morning haircut please would like next week that two three nine thirty appointment name number phone call back thanks yes no maybe'.split(' ');
let seed = 12345;
function sentence(chars: number): string {
  let out = '';
  while (out.length < chars) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out += `${WORDS[seed % WORDS.length]} `;
  }
  return out.slice(0, chars);
}

const db = await createTestDb();
const sql = db.sql;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const walLsn = async (): Promise<bigint | null> => {
  if (!usingRealPostgres()) return null;
  const [row] = await sql<{ b: string }[]>`select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as b`;
  return BigInt(row!.b.split('.')[0]!);
};

try {
  const [company] = await sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Bench', 'whsec_x') returning id`;
  const [bot] = await sql<{ id: string }[]>`insert into bots (company_id, name, config) values (${company!.id}, 'Bot', '{"greeting":"Hi"}'::jsonb) returning id`;
  const row = await createCall(sql, { companyId: company!.id, botId: bot!.id, direction: 'web', status: 'in_progress' });
  const call = { callId: row.id, companyId: company!.id, redact: [] };
  console.log(`=== transcript appends: one call, ${TURNS} turns of ~${CHARS} characters, ${usingRealPostgres() ? 'PostgreSQL' : 'PGlite (in memory)'} ===`);
  console.log('  turns          one append p50 / p95        WAL per append    turn JSON per append');
  let turnBytes = 0;
  const walStart = await walLsn();
  for (let from = 0; from < TURNS; from += STRETCH) {
    const times: number[] = [];
    let bytes = 0;
    const wal0 = await walLsn();
    for (let i = from; i < Math.min(TURNS, from + STRETCH); i++) {
      const turn = { role: i % 2 ? ('bot' as const) : ('caller' as const), text: sentence(CHARS), ts: new Date().toISOString() };
      bytes += JSON.stringify(turn).length;
      const t0 = performance.now();
      await appendTurn(sql, call, turn);
      times.push(performance.now() - t0);
    }
    const wal1 = await walLsn();
    turnBytes += bytes;
    const n = times.length;
    const wal = wal0 !== null && wal1 !== null ? `${(Number(wal1 - wal0) / n / 1024).toFixed(1).padStart(8)} KB` : '       n/a';
    console.log(`  ${String(from + 1).padStart(5)}–${String(from + n).padEnd(5)}   ${pct(times, 0.5).toFixed(2).padStart(7)} / ${pct(times, 0.95).toFixed(2).padStart(7)} ms   ${wal}       ${(bytes / n / 1024).toFixed(2)} KB`);
  }
  const walEnd = await walLsn();
  if (walStart !== null && walEnd !== null) {
    console.log(`  whole call: ${(Number(walEnd - walStart) / 1048576).toFixed(1)} MB of WAL for ${(turnBytes / 1048576).toFixed(2)} MB of turns (${(Number(walEnd - walStart) / turnBytes).toFixed(0)}×)`);
  }
} finally {
  await db.close();
}
