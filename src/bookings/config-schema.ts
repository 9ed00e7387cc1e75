/**
 * The `booking` section of a bot's config: what can be booked, by whom, and when the business is open.
 * Composed into BotConfigSchema by src/bots/config-schema.ts; the descriptions show in the OpenAPI document.
 */
import { Type, type Static } from '@sinclair/typebox';
import { canonicalZone } from '../util/time-zone.js';


const HHMM = '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$';

export const TimeRangeSchema = Type.Object(
  {
    start: Type.String({ pattern: HHMM, description: 'Local wall-clock start, HH:MM (24h)' }),
    end: Type.String({ pattern: HHMM, description: 'Local wall-clock end, HH:MM (24h, 24:00 = midnight); after start' }),
  },
  { additionalProperties: false },
);

export const DayHoursSchema = Type.Object(
  {
    open: Type.String({ pattern: HHMM, description: 'Opening time, HH:MM local' }),
    close: Type.String({ pattern: HHMM, description: 'Closing time, HH:MM local; no appointment ends after it' }),
    breaks: Type.Optional(
      Type.Array(TimeRangeSchema, { maxItems: 10, description: 'Times inside the day when nothing can be booked (lunch)' }),
    ),
  },
  { additionalProperties: false, description: 'Working hours of one weekday; omit the weekday when closed' },
);

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const ServiceSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$', description: 'Stable service id, e.g. "haircut"' }),
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Name as spoken to callers' }),
    aliases: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 20,
        description: 'Other names callers use (any language), matched fuzzily, e.g. ["стрижка", "trim"]',
      }),
    ),
    durationMin: Type.Integer({ minimum: 5, maximum: 1440, description: 'Length of one appointment, minutes' }),
    price: Type.Optional(Type.Number({ minimum: 0, description: 'Price of the service' })),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency of price, e.g. USD' })),
  },
  { additionalProperties: false },
);

export const ResourceSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[a-zA-Z0-9_.-]{1,64}$',
      description:
        'Staff member or resource id. Ids are company-wide: bots of one company naming the same id share its calendar',
    }),
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Name as spoken to callers' }),
    services: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: 200,
      description: 'Ids of the services this resource can perform',
    }),
  },
  { additionalProperties: false },
);

export const BookingConfigSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true, description: 'Offer booking tools during calls' })),
    timezone: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone of the business, e.g. America/New_York; hours and dates are local to it',
    }),
    services: Type.Array(ServiceSchema, { minItems: 1, maxItems: 200, description: 'What can be booked' }),
    resources: Type.Array(ResourceSchema, {
      minItems: 1,
      maxItems: 200,
      description: 'Staff or resources; the number able to do a service is its capacity per slot',
    }),
    hours: Type.Object(
      {
        mon: Type.Optional(DayHoursSchema),
        tue: Type.Optional(DayHoursSchema),
        wed: Type.Optional(DayHoursSchema),
        thu: Type.Optional(DayHoursSchema),
        fri: Type.Optional(DayHoursSchema),
        sat: Type.Optional(DayHoursSchema),
        sun: Type.Optional(DayHoursSchema),
      },
      { additionalProperties: false, description: 'Working hours per weekday (local time); a missing weekday is closed' },
    ),
    slotGranularityMin: Type.Optional(
      Type.Integer({ minimum: 5, maximum: 240, default: 30, description: 'Appointments start on multiples of this, minutes from opening' }),
    ),
    leadTimeMin: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 43_200, default: 60, description: 'Minimum notice: nothing starts sooner than this many minutes from now' }),
    ),
    horizonDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 365, default: 60, description: 'How far ahead bookings are accepted, days' }),
    ),
    blackoutDates: Type.Optional(
      Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), {
        maxItems: 1000,
        description: 'Local dates (YYYY-MM-DD) when nothing can be booked (holidays)',
      }),
    ),
    defaultRegion: Type.Optional(
      Type.String({
        pattern: '^[A-Z]{2}$',
        description: 'ISO 3166 region for callers\' phone numbers written without a country code; default from the bot language (en → US, ru → RU)',
      }),
    ),
  },
  { additionalProperties: false, description: 'Appointments callers can book during a call' },
);

export type BookingConfig = Static<typeof BookingConfigSchema>;
export type BookingService = Static<typeof ServiceSchema>;
export type BookingResource = Static<typeof ResourceSchema>;
export type DayHours = Static<typeof DayHoursSchema>;

export interface BookingSettings {
  timezone: string;
  services: BookingService[];
  resources: BookingResource[];
  hours: Partial<Record<Weekday, DayHours>>;
  slotGranularityMin: number;
  leadTimeMin: number;
  horizonDays: number;
  blackoutDates: Set<string>;
  defaultRegion: string | undefined;
}

/** The config with defaults applied (a schema default is documentation; code must not rely on it being filled). */
export function bookingSettings(config: BookingConfig): BookingSettings {
  return {
    // A bot saved before zones were stored canonically may hold "europe/berlin": shown (slots' timezone) as Europe/Berlin.
    timezone: canonicalZone(config.timezone) ?? config.timezone,
    services: config.services,
    resources: config.resources,
    hours: config.hours,
    slotGranularityMin: config.slotGranularityMin ?? 30,
    leadTimeMin: config.leadTimeMin ?? 60,
    horizonDays: config.horizonDays ?? 60,
    blackoutDates: new Set(config.blackoutDates ?? []),
    defaultRegion: config.defaultRegion,
  };
}

/** Resources able to perform a service, in config order (the order booking tries them). */
export function resourcesFor(settings: BookingSettings, serviceId: string): BookingResource[] {
  return settings.resources.filter((r) => r.services.includes(serviceId));
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Checks what a JSON schema cannot: a real IANA zone, resources naming known services, ranges in order.
 * Returns human-readable problems (empty = valid); the bots module calls it after schema validation.
 */
export function bookingConfigProblems(config: BookingConfig): string[] {
  const problems: string[] = [];
  if (!canonicalZone(config.timezone)) problems.push(`booking.timezone: unknown IANA time zone "${config.timezone}"`);
  const serviceIds = new Set<string>();
  for (const s of config.services) {
    if (serviceIds.has(s.id)) problems.push(`booking.services: duplicate id "${s.id}"`);
    serviceIds.add(s.id);
  }
  const resourceIds = new Set<string>();
  for (const r of config.resources) {
    if (resourceIds.has(r.id)) problems.push(`booking.resources: duplicate id "${r.id}"`);
    resourceIds.add(r.id);
    for (const sid of r.services) {
      if (!serviceIds.has(sid)) problems.push(`booking.resources.${r.id}: unknown service "${sid}"`);
    }
  }
  for (const day of WEEKDAYS) {
    const h = config.hours[day];
    if (!h) continue;
    if (minutesOf(h.close) <= minutesOf(h.open)) problems.push(`booking.hours.${day}: close must be after open`);
    for (const b of h.breaks ?? []) {
      if (minutesOf(b.end) <= minutesOf(b.start)) problems.push(`booking.hours.${day}: break end must be after start`);
    }
  }
  return problems;
}

export { minutesOf as minutesOfHhmm };
