/**
 * The bot config's optional `outcomes` section: the bot's own outcome types (default: booking, lead, support,
 * hangup) and a JSON Schema for `extracted_data` (default: intent, service, date, time, client_name,
 * client_phone). Composed into BotConfigSchema by src/bots/config-schema.ts.
 */
import { Type, type Static } from '@sinclair/typebox';

export const OutcomeTypeSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_]{0,39}$', description: 'Outcome type id, e.g. "booking"' }),
    description: Type.Optional(Type.String({ maxLength: 300, description: 'When this outcome applies (shown to the analysis LLM)' })),
  },
  { additionalProperties: false },
);

export const ExtractionSchemaSchema = Type.Object(
  {
    type: Type.Literal('object'),
    properties: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' }), Type.Object({}, { additionalProperties: true }), {
      maxProperties: 40,
    }),
    required: Type.Optional(Type.Array(Type.String(), { maxItems: 40 })),
  },
  {
    additionalProperties: true,
    description:
      'JSON Schema (an object schema) the extracted_data must follow. For OpenAI strict structured output, list every property in required and use type [..., "null"] for optional values.',
  },
);

export const OutcomeConfigSchema = Type.Object(
  {
    types: Type.Optional(Type.Array(OutcomeTypeSchema, { minItems: 1, maxItems: 20 })),
    extractionSchema: Type.Optional(ExtractionSchemaSchema),
  },
  { additionalProperties: false },
);

export type OutcomeConfig = Static<typeof OutcomeConfigSchema>;
export type OutcomeTypeDef = Static<typeof OutcomeTypeSchema>;
