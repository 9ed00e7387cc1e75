/** The bookable salon the LLM booking tests call: one service, one stylist, open every day 8–20 in New York. */
export const BOOKING_ZONE = 'America/New_York';
const HOURS = { open: '08:00', close: '20:00' };

export const HAIRCUT_BOOKING = {
  timezone: BOOKING_ZONE,
  services: [{ id: 'haircut', name: 'Haircut', durationMin: 60 }],
  resources: [{ id: 'anna', name: 'Anna', services: ['haircut'] }],
  hours: { mon: HOURS, tue: HOURS, wed: HOURS, thu: HOURS, fri: HOURS, sat: HOURS, sun: HOURS },
  slotGranularityMin: 30,
  leadTimeMin: 60,
};

/** The caller ID both tests dial from (the booking's phone when none is asked for). */
export const CALLER_ID = '+15557654321';
