/**
 * Privacy: the company's retention (GET/PUT /v1/privacy/retention) and erasure of everything about one phone
 * number (DELETE /v1/privacy/phone-numbers/{number}; its progress: GET /v1/privacy/erasures/{id}). See src/privacy/.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { auditDetails } from '../../audit/hook.js';
import type { RootSql } from '../../db/sql.js';
import { notFound } from '../../errors.js';
import { erasePhoneNumber } from '../../privacy/erase.js';
import { getErasure } from '../../privacy/erasure-sweep.js';
import { E164, IdParams, Timestamp, errors } from '../schemas.js';
import { drainRecordingDeletions, type RecordingDeleter } from '../../recordings/deletions.js';

const Retention = Type.Object(
  {
    retention_days: Type.Unsafe<number | null>({
      type: ['integer', 'null'], minimum: 1, maximum: 36_500,
      description: 'Calls (with transcripts, outcomes, webhook events, recordings) older than this many days are purged; null keeps everything',
    }),
  },
  { additionalProperties: false },
);

const NumberParams = Type.Object({ number: E164 }, { additionalProperties: false });

const ErasureResult = Type.Object({
  id: Type.String({ description: 'The erasure: GET /v1/privacy/erasures/{id} tells how far it got' }),
  status: Type.Union([Type.Literal('in_progress'), Type.Literal('completed'), Type.Literal('failed')], {
    description: 'completed: nothing about the number is left. in_progress: the number\'s calls, bookings, contacts and consents are erased; the search of the company\'s other outcomes and webhook events for it goes on in the background. failed: that search gave up (the server logs why); ask again',
  }),
  created_at: Timestamp,
  completed_at: Type.Union([Timestamp, Type.Null()]),
  calls: Type.Integer({ description: 'Calls from or to the number: transcript, number and recording removed' }),
  recordings: Type.Integer({ description: 'Recordings of those calls deleted (stored WAVs, Twilio recordings); one that cannot be deleted now is retried until it is' }),
  outcomes: Type.Integer({ description: 'Outcomes whose summary and extracted data were cleared (so far, while in_progress)' }),
  webhook_events: Type.Integer({ description: 'Webhook events about those calls (or carrying the number) deleted (so far, while in_progress)' }),
  bookings: Type.Integer({ description: 'Bookings whose customer phone, name and notes were cleared' }),
  campaign_contacts: Type.Integer({ description: 'Campaign contacts anonymised (phone replaced, name and variables cleared)' }),
  campaign_attempts: Type.Integer(),
  consents: Type.Integer({ description: 'Voice consent records deleted' }),
  dnc_kept: Type.Boolean({ description: 'A do-not-call entry for the number exists and was kept, so it keeps protecting the person' }),
});

export function privacyRoutes(deps: { sql: RootSql; recordings?: RecordingDeleter }): FastifyPluginAsync {
  return async (app) => {
    app.get('/privacy/retention', {
      config: { scope: 'privacy:read' },
      schema: { tags: ['privacy'], summary: 'How long calls are kept', response: { 200: Retention, ...errors(401, 403, 404) } },
    }, async (request) => {
      const [row] = await deps.sql<{ retention_days: number | null }[]>`select retention_days from companies where id = ${request.auth.companyId}`;
      if (!row) throw notFound('Company');
      return row;
    });

    app.put('/privacy/retention', {
      config: { scope: 'privacy:write' },
      schema: { tags: ['privacy'], summary: 'Set how long calls are kept (null: forever); older calls are purged by a background worker', body: Retention, response: { 200: Retention, ...errors(400, 401, 403, 404) } },
    }, async (request) => {
      const body = request.body as Static<typeof Retention>;
      const [row] = await deps.sql<{ retention_days: number | null }[]>`
        update companies set retention_days = ${body.retention_days}, updated_at = now() where id = ${request.auth.companyId} returning retention_days`;
      if (!row) throw notFound('Company');
      return row;
    });

    app.delete('/privacy/phone-numbers/:number', {
      // The append-only audit log records the erasure against a hash of the number, never the number itself.
      config: { scope: 'privacy:write', auditHashesNumber: true },
      schema: {
        tags: ['privacy'],
        summary: 'Erase everything about one phone number (E.164, URL-encoded: %2B15551234567); returns what was changed. A do-not-call entry is kept.',
        description: 'The number\'s calls, bookings, campaign contacts and consents are erased before the answer. Outcomes and webhook events that mention the number elsewhere are found by reading all of the company\'s: 200 when that is done too (status completed), 202 when it goes on in the background (status in_progress) — poll GET /v1/privacy/erasures/{id} until completed.',
        params: NumberParams,
        response: { 200: ErasureResult, 202: ErasureResult, ...errors(400, 401, 403) },
      },
    }, async (request, reply) => {
      const params = request.params as Static<typeof NumberParams>;
      const erasure = await erasePhoneNumber(deps.sql, request.auth.companyId, params.number);
      // The recordings go now; any that fail stay queued and the retention worker retries them.
      if (deps.recordings && erasure.recordings > 0) {
        await drainRecordingDeletions(deps.sql, deps.recordings, { companyId: request.auth.companyId, limit: 1000 })
          .catch((err: unknown) => request.log.warn({ err: String(err) }, 'deleting erased recordings failed; retried later'));
      }
      auditDetails(request, { erased: erasure });
      return reply.code(erasure.status === 'in_progress' ? 202 : 200).send(erasure);
    });

    app.get('/privacy/erasures/:id', {
      config: { scope: 'privacy:read' },
      schema: {
        tags: ['privacy'], summary: 'How far an erasure of a phone number got (completed: nothing about the number is left)',
        params: IdParams, response: { 200: ErasureResult, ...errors(400, 401, 403, 404) },
      },
    }, async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const erasure = await getErasure(deps.sql, request.auth.companyId, id);
      if (!erasure) throw notFound('Erasure');
      return erasure;
    });
  };
}
