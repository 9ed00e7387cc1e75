/** The bot config's `privacy` section: what is redacted from stored transcripts, outcomes and webhooks. */
import { Type, type Static } from '@sinclair/typebox';
import { REDACT_RULES } from './redact.js';

export const PrivacyConfigSchema = Type.Object(
  {
    redact: Type.Optional(Type.Array(Type.Union(REDACT_RULES.map((r) => Type.Literal(r))), {
      maxItems: REDACT_RULES.length,
      uniqueItems: true,
      description: 'What is replaced by [card], [email], [phone] in stored transcripts, outcomes and webhooks. Default: ["cards"]; [] redacts nothing.',
    })),
  },
  { additionalProperties: false, description: 'Redaction of personal data in what Parley stores' },
);

export type PrivacyConfig = Static<typeof PrivacyConfigSchema>;
