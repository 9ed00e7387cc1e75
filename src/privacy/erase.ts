/**
 * Erasure of one phone number in one company ("delete everything about me"). What the number's own rows reach is
 * erased in one transaction, every statement found by index (so its work grows with what the company holds about the
 * number, not with the company):
 * - calls from or to it, and calls in which a booking was made under it (a web call, a withheld caller ID: the
 *   caller said the number, and the transcript holds it): transcript emptied, the number(s) and recording reference removed (the recording itself
 *   — a stored WAV or Twilio's — queued for deletion, deleted after commit: src/recordings/deletions.ts); their
 *   outcomes' summary and extracted data cleared; the webhook events about them deleted (their bodies carry summaries);
 *   each marked erased (`erased_at`), so nothing arriving later is stored: the turns of a call still on the line, a
 *   recording reported or written after, the post-call analysis;
 * - any other outcome whose extracted data holds the number (summary and extracted data cleared), and any other
 *   webhook event whose body holds it (deleted): found by reading every outcome and event of the company, which
 *   grows with the company, so it is the sweep (erasure-sweep.ts): short batches, the first few in the request, the
 *   rest in a background job; the erasure (privacy_erasures) says how far it got;
 * - bookings with it as customer_phone, or made during those calls (the caller may have given another number):
 *   customer_phone, customer_name and notes cleared;
 * - campaign contacts with it: phone replaced by a placeholder in +999 (a country code the ITU reserves: no
 *   real number has it; the column must stay E.164 and unique per campaign), name and variables cleared, a
 *   waiting contact (or one on the line) skipped (never dialled again); their attempts' phone replaced too;
 * - voice consent records for it: deleted (without a record of consent nobody is called on it);
 * - a do-not-call entry for it is KEPT: it is what stops the company's campaigns from calling that person again
 *   (a later upload of the number would otherwise be dialled); its reason (the caller's own words) and its link to
 *   the call are cleared, so it holds the number and no other data.
 * The audit log (append-only) records the erasure with a keyed hash of the number (audit/number-hash.ts), never the
 * number itself; privacy_erasures holds the number only while its sweep runs.
 */
import type { RootSql } from '../db/sql.js';
import { enqueueJob } from '../jobs/queue.js';
import { enqueueRecordingDeletions } from '../recordings/deletions.js';
import { canonicalPhone } from '../util/phone.js';
import { ERASURE_SWEEP_JOB, getErasure, sweepErasure, type Erasure, type ErasureCounts } from './erasure-sweep.js';

/**
 * Sweep batches the request runs itself (a fraction of a second): a company with fewer outcomes and webhook events
 * than these read is swept before the answer (200, completed); a larger one's sweep goes on in the job (202).
 */
export const INLINE_SWEEP_BATCHES = 8;

/**
 * Erases the number's own rows, then sweeps the company's outcomes and webhook events for it: up to `inlineBatches`
 * batches here, the rest in the background job enqueued with the erasure. Returns the erasure as it stands.
 */
export async function erasePhoneNumber(sql: RootSql, companyId: string, given: string, options: { inlineBatches?: number } = {}): Promise<Erasure> {
  const id = await eraseNumberRows(sql, companyId, given);
  await sweepErasure(sql, id, { maxBatches: options.inlineBatches ?? INLINE_SWEEP_BATCHES });
  const erasure = await getErasure(sql, companyId, id);
  if (!erasure) throw new Error(`Erasure ${id} vanished`);
  return erasure;
}

/**
 * One transaction: the rows the number reaches (see the top of this file), and the erasure that records the counts,
 * holds the number's forms for the sweep and has its job queued — so a crash after it still leaves a sweep to run.
 */
async function eraseNumberRows(sql: RootSql, companyId: string, given: string): Promise<string> {
  // Contacts, consents and do-not-call entries hold the normalised form (+4402079460000 is +442079460000); calls
  // hold what Twilio or the caller of the API gave. Both forms are erased.
  const phone = canonicalPhone(given);
  const phones = [...new Set([phone, given])];
  return sql.begin(async (tx) => {
    // The number's calls: from or to it, and those in which a booking was made under it (a web call, a withheld
    // caller ID: the caller gave the number, and the transcript holds it with their name).
    const booked = await tx<{ call_id: string }[]>`
      select distinct call_id from bookings where company_id = ${companyId} and customer_phone = any(${phones}::text[]) and call_id is not null`;
    const bookedIds = booked.map((b) => b.call_id);
    // Three plain arms, each on its own index (from, to, primary key): an OR with a subquery would read every call.
    const matched = await tx<{ id: string }[]>`
      select id from calls where company_id = ${companyId}
        and (from_number = any(${phones}::text[]) or to_number = any(${phones}::text[]) or id = any(${bookedIds}::uuid[]))
      for update`;
    const matchedIds = matched.map((c) => c.id);
    const recordings = await enqueueRecordingDeletions(tx, companyId, matchedIds);
    const calls = await tx<{ id: string }[]>`
      update calls set recording_url = null, recording_sid = null, recording_key = null,
        recording_duration_sec = null, recording_channels = null,
        from_number = case when from_number = any(${phones}::text[]) then null else from_number end,
        to_number = case when to_number = any(${phones}::text[]) then null else to_number end,
        erased_at = coalesce(erased_at, now()), updated_at = now()
      where company_id = ${companyId} and id = any(${matchedIds}::uuid[])
      returning id`;
    const ids = calls.map((c) => c.id);
    await tx`delete from call_turns where call_id = any(${ids}::uuid[])`;
    const outcomes = await tx`
      update outcomes set summary = '[erased]', extracted_data = '{}'::jsonb where company_id = ${companyId} and call_id = any(${ids}::uuid[])`;
    const events = await tx`delete from webhook_events where company_id = ${companyId} and ordering_key = any(${ids}::text[])`;
    const bookings = await tx`
      update bookings set customer_phone = null, customer_name = null, notes = null, updated_at = now()
      where company_id = ${companyId} and (customer_phone = any(${phones}::text[]) or call_id = any(${ids}::uuid[]))`;
    const contacts = await tx<{ id: string }[]>`
      update campaign_contacts
      -- +999 and 11 digits from the contact's id: E.164-shaped, unique per contact, never a real number.
      set phone = '+999' || lpad(((('x' || substr(md5(id::text), 1, 10))::bit(40)::bigint) % 100000000000)::text, 11, '0'), name = null, variables = '{}'::jsonb,
        -- A contact on the line is skipped too: were it left 'live', an unanswered end would put it back to
        -- waiting, and the placeholder would be dialled.
        state = case when state in ('pending', 'dialing', 'live') then 'skipped' else state end,
        skip_reason = case when state in ('pending', 'dialing', 'live') then 'erased' else skip_reason end,
        claim_token = null, locked_until = null, updated_at = now()
      where company_id = ${companyId} and phone = any(${phones}::text[])
      returning id`;
    const attempts = await tx`update campaign_attempts set phone = 'erased' where company_id = ${companyId} and phone = any(${phones}::text[])`;
    const consents = await tx`delete from contact_consents where company_id = ${companyId} and phone = any(${phones}::text[])`;
    const [dnc] = await tx`update dnc_numbers set reason = null, call_id = null where company_id = ${companyId} and phone = ${phone} returning 1`;
    const counts: ErasureCounts = {
      calls: calls.length,
      recordings,
      outcomes: outcomes.count,
      webhook_events: events.count,
      bookings: bookings.count,
      campaign_contacts: contacts.length,
      campaign_attempts: attempts.count,
      consents: consents.count,
      dnc_kept: Boolean(dnc),
    };
    const [erasure] = await tx<{ id: string }[]>`
      insert into privacy_erasures (company_id, phones, counts) values (${companyId}, ${phones}::text[], ${tx.json(counts as never)}) returning id`;
    const id = erasure!.id;
    await enqueueJob(tx, { kind: ERASURE_SWEEP_JOB, payload: { erasureId: id }, companyId, dedupeKey: `erasure:${id}`, maxAttempts: 10 });
    return id;
  });
}
