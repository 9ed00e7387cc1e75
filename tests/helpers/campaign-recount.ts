/**
 * The campaign statistics as GET /v1/campaigns/:id counted them before the counters (migration 0330): every
 * contact and attempt of the campaign, joined to its calls' outcomes. The tests compare the counters with it, and
 * scripts/bench/campaign-stats.ts times it as the "before".
 */
import type { CampaignStats } from '../../src/campaigns/repo.js';
import type { Db } from '../../src/db/sql.js';

export async function recount(db: Db, companyId: string, campaign: { id: string; conversion_outcomes: string[] }): Promise<CampaignStats> {
  const [c] = await db<{ targeted: number; completed: number; in_progress: number; waiting: number }[]>`
    select count(*)::int as targeted,
      count(*) filter (where state in ('done', 'exhausted'))::int as completed,
      count(*) filter (where state in ('dialing', 'live'))::int as in_progress,
      count(*) filter (where state = 'pending')::int as waiting
    from campaign_contacts where company_id = ${companyId} and campaign_id = ${campaign.id}`;
  const skipped = await db<{ reason: string; n: number }[]>`
    select coalesce(skip_reason, 'unknown') as reason, count(*)::int as n from campaign_contacts
    where company_id = ${companyId} and campaign_id = ${campaign.id} and state = 'skipped' group by 1`;
  const [a] = await db<{ dialled: number; answered: number; voicemail: number; conversions: number }[]>`
    select count(*) filter (where a.counted)::int as dialled,
      count(*) filter (where a.outcome in ('answered', 'screened'))::int as answered,
      count(*) filter (where a.voicemail = 'left')::int as voicemail,
      count(*) filter (where o.outcome_type = any(${campaign.conversion_outcomes}))::int as conversions
    from campaign_attempts a left join outcomes o on o.call_id = a.call_id and o.company_id = a.company_id
    where a.company_id = ${companyId} and a.campaign_id = ${campaign.id}`;
  const outcomes = await db<{ outcome: string; n: number }[]>`
    select outcome, count(*)::int as n from campaign_attempts
    where company_id = ${companyId} and campaign_id = ${campaign.id} and outcome is not null group by 1`;
  return {
    targeted: c!.targeted, dialled: a!.dialled, answered: a!.answered, voicemail: a!.voicemail, completed: c!.completed,
    in_progress: c!.in_progress, waiting: c!.waiting, skipped: Object.fromEntries(skipped.map((r) => [r.reason, r.n])),
    outcomes: Object.fromEntries(outcomes.map((r) => [r.outcome, r.n])), conversions: a!.conversions,
  };
}

