/**
 * A lock, not only a request: a tool call that would act on a phone number or an email the company's documents
 * showed the model and the caller never gave is refused before it runs.
 *
 * The documents' framing (knowledge-frame.ts) asks the model not to act on what a passage says; a model may still do
 * so. What a passage can make a tool do with the caller's own details is the harm worth a lock: book or look up
 * bookings under a number printed in a document, take a "callback" to an address a document planted. The test is
 * checkable, not a keyword list: every contact (a run of 7+ digits that may be a phone number, an email) in a tool's
 * arguments that also appears in a passage shown in this call must appear in the caller's own words (spoken digits
 * included: "two one two…", keypad turns) or be their caller ID. A contact found in no document is never refused —
 * the caller's details the recognizer garbled stay the model's to get right, as before.
 *
 * What it does not lock, and why: transfer_call and end_call take no target from the model (the number is the
 * bot's configured one, checked at call time: telephony/transfer-target.ts), so a document can at most make the
 * model hand over to the company's own people or say goodbye early; whether the caller "asked for it" has no check
 * that is not a keyword list over a recognizer's words. A booking needs the caller's yes to the read-back in the
 * guided flow (bookings/flow), which is state the code owns, not the model.
 */
import { extractPhoneDigits } from '../bookings/flow/understand.js';
import type { ChatMessage } from '../providers/types.js';
import { contactsIn, digitsOf, sameNumber } from '../safety/safe-speech.js';

/** The contacts seen in the company's passages during a call: emails (lower case) and phone-like digit runs. */
export class DocumentContacts {
  private readonly emails = new Set<string>();
  private readonly numbers = new Set<string>();

  note(text: string): void {
    for (const c of contactsIn(text)) {
      if (c.includes('@')) this.emails.add(c.toLowerCase());
      else this.numbers.add(digitsOf(c));
    }
  }

  has(contact: string): boolean {
    if (contact.includes('@')) return this.emails.has(contact.toLowerCase());
    const digits = digitsOf(contact);
    for (const n of this.numbers) if (sameNumber(n, digits)) return true;
    return false;
  }

  get empty(): boolean {
    return this.emails.size === 0 && this.numbers.size === 0;
  }
}

/** Every string inside a tool call's arguments. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) stringsOf(v, out);
  return out;
}

/** Whether the caller gave `contact`: in their words (digits or digit words), or as their caller ID. */
function callerGave(contact: string, callerTurns: readonly string[], callerNumber: string | null): boolean {
  if (contact.includes('@')) {
    const email = contact.toLowerCase();
    return callerTurns.some((t) => t.toLowerCase().includes(email));
  }
  const digits = digitsOf(contact);
  if (callerNumber && sameNumber(digitsOf(callerNumber), digits)) return true;
  return callerTurns.some((t) => {
    for (const c of contactsIn(t)) if (!c.includes('@') && sameNumber(digitsOf(c), digits)) return true;
    const said = extractPhoneDigits(t);
    return said !== null && sameNumber(said, digits);
  });
}

/**
 * The first contact in `args` that a document showed and the caller never gave, or null. `history`: the call's
 * conversation (its caller turns are what the caller said).
 */
export function contactFromDocuments(args: unknown, documents: DocumentContacts, history: readonly ChatMessage[], callerNumber: string | null): string | null {
  if (documents.empty) return null;
  let callerTurns: string[] | null = null;
  for (const text of stringsOf(args)) {
    const written = contactsIn(text);
    // A number the model wrote out in words ("two one two …") is a number all the same.
    const said = written.length === 0 ? extractPhoneDigits(text) : null;
    for (const contact of said ? [said] : written) {
      if (!documents.has(contact)) continue;
      callerTurns ??= history.filter((m) => m.role === 'user').map((m) => m.content);
      if (!callerGave(contact, callerTurns, callerNumber)) return contact;
    }
  }
  return null;
}

/** The result a refused call gets: the model is told why and what to do instead. */
export function copiedContactRefusal(contact: string): string {
  return JSON.stringify({
    error: 'not_from_caller',
    message: `${contact} comes from the company's documents, not from the caller, so it was not used. Use only contact ` +
      'details the caller gives; ask them for theirs.',
  });
}
