/**
 * Booking lifecycle. A hold ('held', with hold_expires_at) is a booking row too, so the database's
 * no-overlap constraint covers holds; it becomes 'pending' or 'confirmed', or lapses to 'expired'.
 *   held → pending | confirmed | cancelled | expired
 *   pending → confirmed → in_progress → completed ; any non-final → cancelled
 */
import { ParleyError } from '../errors.js';

export const BOOKING_STATUSES = ['held', 'pending', 'confirmed', 'in_progress', 'completed', 'cancelled', 'expired'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];
export type Actor = 'caller' | 'api' | 'system';

/** Statuses that occupy a resource's time (the exclusion constraint's predicate lists the same). */
export const LIVE_STATUSES: readonly BookingStatus[] = ['held', 'pending', 'confirmed', 'in_progress'];
export const FINAL_STATUSES: readonly BookingStatus[] = ['completed', 'cancelled', 'expired'];

const NEXT: Record<BookingStatus, readonly BookingStatus[]> = {
  held: ['pending', 'confirmed', 'cancelled', 'expired'],
  pending: ['confirmed', 'cancelled'],
  confirmed: ['in_progress', 'cancelled'],
  in_progress: ['completed', 'cancelled'],
  completed: [],
  cancelled: [],
  expired: [],
};

export function canTransition(from: BookingStatus, to: BookingStatus): boolean {
  return NEXT[from].includes(to);
}

export function assertTransition(from: BookingStatus, to: BookingStatus): void {
  if (!canTransition(from, to)) {
    throw new ParleyError('PARLEY_ERR_ILLEGAL_TRANSITION', `A ${from} booking cannot become ${to}`, {
      from,
      to,
      allowed: NEXT[from],
    });
  }
}

export const isLive = (status: BookingStatus): boolean => LIVE_STATUSES.includes(status);
