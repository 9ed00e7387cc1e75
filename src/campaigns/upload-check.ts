/**
 * A campaign's contact list or a do-not-call list, parsed (CSV) and checked (contacts.ts) on a worker thread of
 * its own (util/worker-task.ts), never on the event loop that carries calls: 10,000 contacts took 110–150 ms of
 * that loop, a wide CSV over a second. The thread gets UPLOAD_CHECK_LIMITS; an upload that needs more is a 413.
 */
import { ParleyError, type ErrorCode } from '../errors.js';
import { runWorkerTask, WorkerTaskError, WorkerTaskRejection, type WorkerTaskLimits } from '../util/worker-task.js';
import { checkContacts, checkNumbers, contactsFromCsv, dncFromCsv, type CheckedContact, type RawContact, type RawNumber, type RowError } from './contacts.js';

export type ContactsTask =
  | { kind: 'contacts'; contacts: RawContact[]; defaultCountry?: string | undefined }
  | { kind: 'contacts-csv'; csv: string; defaultCountry?: string | undefined };
export type NumbersTask =
  | { kind: 'numbers'; numbers: RawNumber[]; defaultCountry?: string | undefined }
  | { kind: 'numbers-csv'; csv: string; defaultCountry?: string | undefined };
export type UploadCheckTask = ContactsTask | NumbersTask;

export type ContactsResult = { kind: 'contacts'; received: number; contacts: CheckedContact[]; errors: RowError[] };
export type NumbersResult = { kind: 'numbers'; received: number; numbers: { phone: string; reason: string | null }[]; errors: RowError[] };
export type UploadCheckResult = ContactsResult | NumbersResult;

/** Generous for the largest upload allowed (2 MB of CSV, 10,000 rows), and far from the process's own heap. */
export const UPLOAD_CHECK_LIMITS: WorkerTaskLimits = { memoryMb: 256, timeoutMs: 15_000 };

/** The work itself (runs in the thread; tests call it directly). */
export function checkUpload(task: UploadCheckTask): UploadCheckResult {
  switch (task.kind) {
    case 'contacts':
    case 'contacts-csv': {
      const raw = task.kind === 'contacts' ? task.contacts : contactsFromCsv(task.csv);
      return { kind: 'contacts', received: raw.length, ...checkContacts(raw, task.defaultCountry) };
    }
    case 'numbers':
    case 'numbers-csv': {
      const raw = task.kind === 'numbers' ? task.numbers : dncFromCsv(task.csv);
      return { kind: 'numbers', received: raw.length, ...checkNumbers(raw, task.defaultCountry) };
    }
  }
}

/** checkUpload on a thread of its own; the upload's own faults come back as the 4xx they are. */
export function checkUploadOffLoop(task: ContactsTask, limits?: WorkerTaskLimits): Promise<ContactsResult>;
export function checkUploadOffLoop(task: NumbersTask, limits?: WorkerTaskLimits): Promise<NumbersResult>;
export function checkUploadOffLoop(task: UploadCheckTask, limits?: WorkerTaskLimits): Promise<UploadCheckResult>;
export async function checkUploadOffLoop(task: UploadCheckTask, limits: WorkerTaskLimits = UPLOAD_CHECK_LIMITS): Promise<UploadCheckResult> {
  try {
    return await runWorkerTask<UploadCheckTask, UploadCheckResult>(import.meta.url, 'upload-check-worker', task, limits);
  } catch (err) {
    if (err instanceof WorkerTaskRejection && err.code?.startsWith('PARLEY_ERR_')) throw new ParleyError(err.code as ErrorCode, err.message);
    if (err instanceof WorkerTaskError && err.reason !== 'crash') {
      throw new ParleyError('PARLEY_ERR_PAYLOAD_TOO_LARGE', `The upload could not be checked within its limits (${err.message}); send it in smaller parts`);
    }
    throw err;
  }
}
