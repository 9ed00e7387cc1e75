/**
 * The `bookingFlow` section of a bot's config: which slots a guided booking needs and what is read back.
 * Composed into BotConfigSchema (src/bots/config-schema.ts).
 */
import { Type, type Static } from '@sinclair/typebox';

export const BookingFlowConfigSchema = Type.Object(
  {
    requireName: Type.Optional(Type.Boolean({ default: true, description: "Ask for the caller's name before booking" })),
    requirePhone: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          'A callback number is required: taken from caller ID on phone calls, asked for on web calls (and to find a web caller\'s bookings)',
      }),
    ),
    readBackPhone: Type.Optional(Type.Boolean({ default: true, description: 'Read the callback number back in the confirmation' })),
    confirm: Type.Optional(
      Type.Boolean({ default: true, description: 'Read the booking (or cancellation, or new time) back and wait for a yes before acting' }),
    ),
  },
  { additionalProperties: false, description: 'Guided booking, cancelling and rescheduling (see README, Bookings)' },
);

export type BookingFlowConfig = Static<typeof BookingFlowConfigSchema>;

export interface FlowSettings {
  requireName: boolean;
  requirePhone: boolean;
  readBackPhone: boolean;
  confirm: boolean;
}

export function flowSettings(config: BookingFlowConfig | undefined): FlowSettings {
  return {
    requireName: config?.requireName ?? true,
    requirePhone: config?.requirePhone ?? true,
    readBackPhone: config?.readBackPhone ?? true,
    confirm: config?.confirm ?? true,
  };
}
