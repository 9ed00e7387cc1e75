/**
 * GET /v1/calls/:id/recording: the call's recording as audio/wav, streamed — a web call's WAV from the
 * RecordingStore, a Twilio call's from Twilio (fetched with the account's credentials and passed through, never
 * buffered whole). 404 alike for another company's call, an unknown call and a call without a recording.
 * Recorded in the audit log as a read that matters.
 */
import type { FastifyPluginAsync } from 'fastify';
import { auditRead } from '../../audit/hook.js';
import type { RootSql } from '../../db/sql.js';
import { ParleyError, notFound } from '../../errors.js';
import { recordingOfCall } from '../../recordings/repo.js';
import type { RecordingStore, StoredObject } from '../../recordings/store.js';
import type { TwilioRecordings } from '../../recordings/twilio-recordings.js';
import { IdParams, errors } from '../schemas.js';

export interface RecordingRouteDeps {
  sql: RootSql;
  store: RecordingStore | null;
  /** Null when Twilio REST credentials are not configured (Twilio recordings then answer 503). */
  twilio: Pick<TwilioRecordings, 'open'> | null;
}

export function recordingRoutes(deps: RecordingRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/calls/:id/recording', {
      config: { scope: 'recordings:read' },
      schema: {
        tags: ['calls'],
        summary: 'The call\'s recording (audio/wav): web calls stereo, caller left and bot right; Twilio calls dual-channel as Twilio recorded them',
        params: IdParams,
        produces: ['audio/wav'],
        response: { ...errors(400, 401, 403, 404, 502, 503) },
      },
    }, async (request, reply) => {
      const { id } = request.params as { id: string };
      const rec = await recordingOfCall(deps.sql, request.auth.companyId, id);
      if (!rec) throw notFound('Recording');
      let object: StoredObject | null;
      if (rec.recording_key) {
        if (!deps.store) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'No recording store is configured');
        object = await deps.store.open(rec.recording_key);
      } else {
        if (!deps.twilio) throw new ParleyError('PARLEY_ERR_UNAVAILABLE', 'Twilio recordings need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN on the server');
        object = await deps.twilio.open(rec.recording_sid!);
      }
      if (!object) throw notFound('Recording');
      auditRead(request);
      reply.type('audio/wav').header('content-disposition', `attachment; filename="call-${id}.wav"`);
      if (object.size !== null) reply.header('content-length', object.size);
      return reply.send(object.body);
    });
  };
}
