/**
 * How many uploads of one company this process reads at once. An upload's body is held in memory whole (up to
 * UPLOAD_MAX_BYTES, 20 MiB, while it arrives over up to HTTP_REQUEST_TIMEOUT_MS), and the request rate limit
 * (600 a minute) let one API key open hundreds of slow uploads together: up to gigabytes in the process every tenant's
 * calls run in. Beyond the limit an upload is 429 before its body is read.
 */
import { ParleyError } from '../errors.js';

export const DEFAULT_UPLOADS_IN_PROGRESS_PER_COMPANY = 4;

export class UploadSlots {
  private readonly inProgress = new Map<string, number>();

  constructor(private readonly perCompany = DEFAULT_UPLOADS_IN_PROGRESS_PER_COMPANY) {}

  /** Uploads of the company in progress now. */
  held(companyId: string): number {
    return this.inProgress.get(companyId) ?? 0;
  }

  /** Takes a slot for the company (429 when it has none left); the returned function gives it back, once. */
  take(companyId: string): () => void {
    const n = this.inProgress.get(companyId) ?? 0;
    if (n >= this.perCompany) {
      throw new ParleyError(
        'PARLEY_ERR_RATE_LIMITED',
        `${n} uploads of this company are already in progress (the limit is ${this.perCompany}); send this one when one of them has finished`,
      );
    }
    this.inProgress.set(companyId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inProgress.get(companyId) ?? 1) - 1;
      if (left > 0) this.inProgress.set(companyId, left);
      else this.inProgress.delete(companyId);
    };
  }
}
