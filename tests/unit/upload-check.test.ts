import { describe, expect, it } from 'vitest';
import { DncUpload } from '../../src/api/routes/campaigns.js';
import { checkUpload, checkUploadOffLoop, uploadCheckSlots } from '../../src/campaigns/upload-check.js';
import { ParleyError } from '../../src/errors.js';

const csv = (header: string, rows: string[]): string => [header, ...rows].join('\n');
const turn = { slots: uploadCheckSlots(0), companyId: 'company' };

describe('contact and do-not-call uploads are checked on a thread of their own', () => {
  it('gives the same answer as the check itself, from another thread', async () => {
    const task = {
      kind: 'contacts-csv' as const,
      csv: csv('phone,name,city,consent_voice,consent_recorded_at', ['+14155550100,Ann,Paris,granted,2026-11-01T10:00:00Z', '4155550101,Bob,Rome,,', 'nonsense,Cy,Oslo,,']),
      defaultCountry: 'US',
    };
    const off = await checkUploadOffLoop(task, turn);
    expect(off).toEqual(checkUpload(task));
    expect(off).toMatchObject({ kind: 'contacts', received: 3, errors: [{ row: 3 }] });
    expect(off.contacts.map((c) => c.phone)).toEqual(['+14155550100', '+14155550101']);
    // A Date survives the trip back.
    expect(off.contacts[0]!.consent!.recordedAt).toBeInstanceOf(Date);
    const numbers = await checkUploadOffLoop({ kind: 'numbers-json', json: JSON.stringify({ numbers: [{ phone: '+442079460000', reason: 'asked' }, { phone: 'xyz' }] }), schema: DncUpload }, turn);
    expect(numbers).toMatchObject({ kind: 'numbers', received: 2, numbers: [{ phone: '+442079460000', reason: 'asked' }], errors: [{ row: 2 }] });
  });

  it("an upload's own fault is the 4xx it is; a wide header is refused before any row is read", async () => {
    const wide = csv(`phone,${Array.from({ length: 30 }, (_, i) => `v${i}`).join(',')}`, ['+14155550100']);
    for (const task of [
      { kind: 'contacts-csv' as const, csv: wide },
      { kind: 'numbers-csv' as const, csv: wide },
      { kind: 'contacts-csv' as const, csv: 'name\nAnn' },
      { kind: 'contacts-csv' as const, csv: 'phone,"unclosed\n1' },
    ]) {
      const err = await checkUploadOffLoop(task, turn).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ParleyError);
      expect((err as ParleyError).status).toBe(400);
    }
    const err = await checkUploadOffLoop({ kind: 'contacts-csv', csv: wide }, turn).catch((e: unknown) => e as Error);
    expect((err as Error).message).toContain('31 columns; at most 26');
  });

  it('an upload that outgrows its thread is a 413, and the process goes on', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => `+1415555${String(i).padStart(4, '0')},Name ${i}`);
    const err = await checkUploadOffLoop({ kind: 'contacts-csv', csv: csv('phone,name', rows) }, turn, { memoryMb: 256, timeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).status).toBe(413);
    expect((err as ParleyError).message).toContain('did not finish within 1 ms');
    // The same upload with its real limits goes through.
    const ok = await checkUploadOffLoop({ kind: 'contacts-csv', csv: csv('phone,name', rows) }, turn);
    expect(ok).toMatchObject({ kind: 'contacts', received: 10_000, errors: [] });
  });
});
