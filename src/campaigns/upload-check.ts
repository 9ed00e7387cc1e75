/**
 * A campaign's contact list or a do-not-call list, parsed (JSON: upload-body.ts; CSV) and checked (contacts.ts) on
 * a worker thread of its own (util/worker-task.ts), never on the event loop that carries calls: 10,000 contacts
 * took 110–150 ms of that loop to check, a wide CSV over a second, and a 3 MB JSON body 30–130 ms to parse and
 * validate. The thread gets UPLOAD_CHECK_LIMITS; an upload that needs more is a 413.
 *
 * Each check waits for a turn (util/task-slots.ts: a few at once per process, companies taking turns, a short
 * bounded wait); an upload that gets none is a 503 with Retry-After, never one more thread on the cores.
 */
import { availableParallelism } from 'node:os';
import { ParleyError, type ErrorCode } from '../errors.js';
import { TaskSlots, TaskSlotsBusyError } from '../util/task-slots.js';
import { runWorkerTask, WorkerTaskError, WorkerTaskRejection, type WorkerTaskLimits } from '../util/worker-task.js';
import { checkContacts, checkNumbers, contactsFromCsv, dncFromCsv, type CheckedContact, type RawContact, type RawNumber, type RowError } from './contacts.js';
import type { TSchema } from '@sinclair/typebox';
import { bodyRefusalError, readJsonBody, type BodyRefusal } from './upload-body.js';

/**
 * A JSON upload is its body's text as the route received it (undefined when none was sent) and the route's schema
 * for it (ContactsUpload, DncUpload in api/routes/campaigns.ts), checked in the thread before the rows are.
 */
export type ContactsTask =
  | { kind: 'contacts-json'; json: string | undefined; schema: TSchema }
  | { kind: 'contacts-csv'; csv: string; defaultCountry?: string | undefined };
export type NumbersTask =
  | { kind: 'numbers-json'; json: string | undefined; schema: TSchema }
  | { kind: 'numbers-csv'; csv: string; defaultCountry?: string | undefined };
export type UploadCheckTask = ContactsTask | NumbersTask;

export type ContactsResult = { kind: 'contacts'; received: number; contacts: CheckedContact[]; errors: RowError[] };
export type NumbersResult = { kind: 'numbers'; received: number; numbers: { phone: string; reason: string | null }[]; errors: RowError[] };
/** A JSON body refused before any row was checked (checkUploadOffLoop throws it as its 400). */
export type BodyRefused = { kind: 'refused'; refusal: BodyRefusal };
export type UploadCheckResult = ContactsResult | NumbersResult | BodyRefused;

/** Generous for the largest upload allowed (4 MB of JSON or 2 MB of CSV, 10,000 rows), and far from the process's own heap. */
export const UPLOAD_CHECK_LIMITS: WorkerTaskLimits = { memoryMb: 256, timeoutMs: 15_000 };

/**
 * The bound on upload checks of one process: `maxConcurrent` threads at once (0: one per CPU core); twice that may
 * wait per company and four times that in all, each for up to 10 s — a 10,000-row check takes 0.1–0.3 s.
 */
export function uploadCheckSlots(maxConcurrent: number): TaskSlots {
  const running = maxConcurrent > 0 ? maxConcurrent : availableParallelism();
  return new TaskSlots({ running, queued: 4 * running, queuedPerKey: 2 * running, maxWaitMs: 10_000, retryAfterSec: UPLOAD_RETRY_AFTER_SEC });
}

/** Retry-After of an upload the server had no room to check. */
const UPLOAD_RETRY_AFTER_SEC = 2;

/** Whose upload it is, and the process's bound it waits its turn in. */
export interface UploadCheckTurn {
  slots: TaskSlots;
  companyId: string;
}

const contactsResult = (raw: RawContact[], defaultCountry: string | undefined): ContactsResult => ({ kind: 'contacts', received: raw.length, ...checkContacts(raw, defaultCountry) });
const numbersResult = (raw: RawNumber[], defaultCountry: string | undefined): NumbersResult => ({ kind: 'numbers', received: raw.length, ...checkNumbers(raw, defaultCountry) });

/** The rows of a JSON upload (its body's `key`) and its default_country, once the body passed its checks. */
function jsonRows<R>(task: { json: string | undefined; schema: TSchema }, key: 'contacts' | 'numbers'): { rows: R[]; defaultCountry: string | undefined } | BodyRefused {
  const body = readJsonBody(task.json, task.schema);
  if (!body.ok) return { kind: 'refused', refusal: body.refusal };
  const value = body.value as Record<typeof key, R[]> & { default_country?: string };
  return { rows: value[key], defaultCountry: value.default_country };
}

/** The work itself (runs in the thread; tests call it directly). */
export function checkUpload(task: UploadCheckTask): UploadCheckResult {
  switch (task.kind) {
    case 'contacts-json': {
      const body = jsonRows<RawContact>(task, 'contacts');
      return 'refusal' in body ? body : contactsResult(body.rows, body.defaultCountry);
    }
    case 'contacts-csv':
      return contactsResult(contactsFromCsv(task.csv), task.defaultCountry);
    case 'numbers-json': {
      const body = jsonRows<RawNumber>(task, 'numbers');
      return 'refusal' in body ? body : numbersResult(body.rows, body.defaultCountry);
    }
    case 'numbers-csv':
      return numbersResult(dncFromCsv(task.csv), task.defaultCountry);
  }
}

/**
 * checkUpload on a thread of its own, once `turn` gives it one; the upload's own faults (a refused body included)
 * come back as the 4xx they are, a server with no turn for it as a 503 whose details carry `retry_after_s`.
 */
export function checkUploadOffLoop(task: ContactsTask, turn: UploadCheckTurn, limits?: WorkerTaskLimits): Promise<ContactsResult>;
export function checkUploadOffLoop(task: NumbersTask, turn: UploadCheckTurn, limits?: WorkerTaskLimits): Promise<NumbersResult>;
export function checkUploadOffLoop(task: UploadCheckTask, turn: UploadCheckTurn, limits?: WorkerTaskLimits): Promise<ContactsResult | NumbersResult>;
export async function checkUploadOffLoop(task: UploadCheckTask, turn: UploadCheckTurn, limits: WorkerTaskLimits = UPLOAD_CHECK_LIMITS): Promise<ContactsResult | NumbersResult> {
  let result: UploadCheckResult;
  try {
    result = await turn.slots.run(turn.companyId, () => runWorkerTask<UploadCheckTask, UploadCheckResult>(import.meta.url, 'upload-check-worker', task, limits));
  } catch (err) {
    if (err instanceof TaskSlotsBusyError) {
      throw new ParleyError('PARLEY_ERR_UNAVAILABLE', `The server is checking as many uploads as it can (${err.message}); retry in ${err.retryAfterSec} s`, { retry_after_s: err.retryAfterSec });
    }
    if (err instanceof WorkerTaskRejection && err.code?.startsWith('PARLEY_ERR_')) throw new ParleyError(err.code as ErrorCode, err.message);
    if (err instanceof WorkerTaskError && err.reason === 'start') {
      // The machine is too busy to start the check: the server's state, not the upload's size.
      throw new ParleyError('PARLEY_ERR_UNAVAILABLE', `The server is too busy to check the upload now (its check ${err.message}); retry in ${UPLOAD_RETRY_AFTER_SEC} s`, { retry_after_s: UPLOAD_RETRY_AFTER_SEC });
    }
    if (err instanceof WorkerTaskError && err.reason !== 'crash') {
      throw new ParleyError('PARLEY_ERR_PAYLOAD_TOO_LARGE', `The upload could not be checked within its limits (${err.message}); send it in smaller parts`);
    }
    throw err;
  }
  if (result.kind === 'refused') throw bodyRefusalError(result.refusal);
  return result;
}
