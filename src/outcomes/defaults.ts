/** What a bot gets when its config has no `outcomes` section. */
import type { OutcomeConfig, OutcomeTypeDef } from './config-schema.js';

export const DEFAULT_OUTCOME_TYPES: OutcomeTypeDef[] = [
  { name: 'booking', description: 'An appointment was booked during the call' },
  { name: 'lead', description: 'The caller is interested and left contact details, but nothing was booked' },
  { name: 'support', description: 'The caller asked questions or needed help; no booking or lead' },
  { name: 'hangup', description: 'The caller hung up having said (almost) nothing (only a call the caller ended)' },
  { name: 'transfer', description: 'The caller was handed to a person' },
  { name: 'no_response', description: 'The caller went silent or said (almost) nothing and the bot ended the call (silence, the time limit)' },
  { name: 'failed', description: 'The system ended the call: a provider or telephony failure, the server shutting down or lost, the budget used up (not the caller)' },
  { name: 'not_connected', description: 'Nobody was on the line: unanswered, busy, or a web call that never started' },
];

const nullableString = (description: string) => ({ type: ['string', 'null'], description });

export const DEFAULT_EXTRACTION_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: {
    intent: nullableString('What the caller wanted, in a few words'),
    service: nullableString('The service asked about or booked'),
    date: nullableString('Requested/booked date, YYYY-MM-DD when known, else as said'),
    time: nullableString('Requested/booked time, HH:MM 24h when known, else as said'),
    client_name: nullableString("The caller's name"),
    client_phone: nullableString("The caller's phone number, E.164 when possible"),
  },
  required: ['intent', 'service', 'date', 'time', 'client_name', 'client_phone'],
  additionalProperties: false,
};

export interface ResolvedOutcomeConfig {
  types: OutcomeTypeDef[];
  extractionSchema: Record<string, unknown>;
}

export function resolveOutcomeConfig(config: OutcomeConfig | undefined): ResolvedOutcomeConfig {
  return {
    types: config?.types?.length ? config.types : DEFAULT_OUTCOME_TYPES,
    extractionSchema: (config?.extractionSchema as Record<string, unknown> | undefined) ?? DEFAULT_EXTRACTION_SCHEMA,
  };
}
