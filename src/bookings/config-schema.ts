// Placeholder owned by the bookings module; replaced by the full schema (services, resources, hours…).
import { Type } from '@sinclair/typebox';
export const BookingConfigSchema = Type.Object({}, { additionalProperties: true });
