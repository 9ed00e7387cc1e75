// Placeholder owned by the outcomes module; replaced by the full schema (outcome types, extraction schema).
import { Type } from '@sinclair/typebox';
export const OutcomeConfigSchema = Type.Object({}, { additionalProperties: true });
