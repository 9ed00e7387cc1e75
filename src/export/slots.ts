/**
 * How many exports run at once, per company and in this process. An export is long (minutes for a large company)
 * and every batch is database time and event-loop time shared with every tenant and every live call's audio: eight
 * at once by one company made another company's GET /v1/calls take seconds. Beyond either limit the export is refused
 * (429), not queued: the client retries when one of its downloads has finished.
 */
import { ParleyError } from '../errors.js';

export interface ExportLimits {
  /** Exports one company may run at once. */
  perCompany: number;
  /** Exports this process runs at once, every company together. */
  perProcess: number;
}

export class ExportSlots {
  private running = 0;
  private readonly byCompany = new Map<string, number>();

  constructor(private readonly limits: ExportLimits) {}

  /** A slot for one of the company's exports, or a 429 ParleyError; the returned release may be called more than once. */
  take(companyId: string): () => void {
    const mine = this.byCompany.get(companyId) ?? 0;
    if (mine >= this.limits.perCompany) {
      throw new ParleyError('PARLEY_ERR_RATE_LIMITED', `This company already has ${mine} export${mine === 1 ? '' : 's'} running (the limit is ${this.limits.perCompany}); retry once one has finished`);
    }
    if (this.running >= this.limits.perProcess) {
      throw new ParleyError('PARLEY_ERR_RATE_LIMITED', `This server is running as many exports as it takes at once (${this.limits.perProcess}); retry in a minute`);
    }
    this.running++;
    this.byCompany.set(companyId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const left = (this.byCompany.get(companyId) ?? 1) - 1;
      if (left === 0) this.byCompany.delete(companyId);
      else this.byCompany.set(companyId, left);
    };
  }
}
