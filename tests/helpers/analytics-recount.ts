/**
 * GET /v1/analytics's counts recounted from scratch: every call of a company started in [from, to) (UTC instants),
 * read row by row and sorted here, in TypeScript, with the end reasons' own list (src/call/end-reasons.ts) — not by
 * the rollup's SQL. The tests compare the rollup's totals with it after calls change state.
 */
import type { DayStats } from '../../src/analytics/query.js';
import { endReasonCode, isMachineEndReason } from '../../src/call/end-reasons.js';
import type { Db } from '../../src/db/sql.js';

/** The counts of a day's (or the range's) figures, and its average talk time. */
export type Recount = Pick<DayStats, 'calls' | 'by_direction' | 'by_status' | 'answered' | 'machine_answered' | 'machine_answers' | 'completed'
  | 'transferred' | 'analyzed' | 'leads' | 'outcomes' | 'barge_ins'> & { duration_sec_avg: number | null };

const LIVE = new Set(['queued', 'ringing', 'in_progress']);

export async function recountAnalytics(db: Db, companyId: string, from: string, to: string): Promise<Recount> {
  const rows = await db<{
    direction: 'inbound' | 'outbound' | 'web'; status: string; answered: boolean; ended: boolean; duration_sec: number | null;
    end_reason: string | null; machine_end_reason: string | null; outcome_type: string | null; barge_ins: number;
  }[]>`
    select c.direction, c.status, c.answered_at is not null as answered, c.ended_at is not null as ended, c.duration_sec,
      c.end_reason, c.machine_end_reason, o.outcome_type,
      (select count(*)::int from call_turns e where e.call_id = c.id and e.turn->>'role' = 'bot' and e.turn->'interrupted' = 'true'::jsonb) as barge_ins
    from calls c left join outcomes o on o.call_id = c.id
    where c.company_id = ${companyId} and c.started_at >= ${new Date(from)} and c.started_at < ${new Date(to)}`;
  const r: Recount = {
    calls: 0, by_direction: { inbound: 0, outbound: 0, web: 0 },
    by_status: { completed: 0, failed: 0, busy: 0, no_answer: 0, canceled: 0, live: 0, machine_answered: 0 },
    answered: 0, machine_answered: 0, machine_answers: { voicemail_left: 0, voicemail_hung_up: 0, fax: 0 },
    completed: 0, transferred: 0, analyzed: 0, leads: 0, outcomes: {}, barge_ins: 0, duration_sec_avg: null,
  };
  let durations = 0;
  let durationSum = 0;
  for (const c of rows) {
    r.calls++;
    r.by_direction[c.direction]++;
    // How the call ended once it has; while it is live, what answering-machine detection decided.
    const code = endReasonCode(c.end_reason ?? c.machine_end_reason);
    const machine = code !== null && isMachineEndReason(code) ? code : null;
    if (LIVE.has(c.status)) r.by_status.live++;
    else if (machine) r.by_status.machine_answered++;
    else r.by_status[c.status as 'completed' | 'failed' | 'busy' | 'no_answer' | 'canceled']++;
    if (machine) {
      r.machine_answered++;
      r.machine_answers[machine]++;
    } else if (c.answered) {
      r.answered++;
      if (c.ended && c.duration_sec !== null) {
        durations++;
        durationSum += c.duration_sec;
      }
    }
    if (c.end_reason === 'transferred') r.transferred++;
    if (c.outcome_type) {
      r.analyzed++;
      r.outcomes[c.outcome_type] = (r.outcomes[c.outcome_type] ?? 0) + 1;
      if (c.outcome_type === 'lead') r.leads++;
    }
    r.barge_ins += c.barge_ins;
  }
  r.completed = r.by_status.completed;
  r.duration_sec_avg = durations ? Math.round((durationSum / durations) * 10) / 10 : null;
  return r;
}

/** The same figures read from a GET /v1/analytics answer's totals (or one of its days). */
export function countsOf(stats: Record<string, unknown> & { duration_sec: { avg: number | null } }): Recount {
  const pick = <K extends keyof Recount>(k: K): Recount[K] => stats[k] as Recount[K];
  return {
    calls: pick('calls'), by_direction: pick('by_direction'), by_status: pick('by_status'), answered: pick('answered'),
    machine_answered: pick('machine_answered'), machine_answers: pick('machine_answers'), completed: pick('completed'),
    transferred: pick('transferred'), analyzed: pick('analyzed'), leads: pick('leads'), outcomes: pick('outcomes'),
    barge_ins: pick('barge_ins'), duration_sec_avg: stats.duration_sec.avg,
  };
}
