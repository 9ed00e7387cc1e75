/**
 * A callee's consent is what they said last, by when they said it: a contact upload carrying an older record (a
 * CRM export from before the callee said "stop") or "unknown" never undoes a refusal; a consent given after it
 * does. The same for a single record through the API's setConsent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConsent, setConsent, setConsents } from '../../src/campaigns/suppression.js';
import { createTestDb, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let company: string;
beforeAll(async () => {
  db = await createTestDb();
  const [row] = await db.sql<{ id: string }[]>`insert into companies (name, webhook_secret) values ('Consent', 'whsec_dGVzdA==') returning id`;
  company = row!.id;
});
afterAll(async () => db?.close());

const PHONE = '+12125550123';
const voice = async () => (await getConsent(db.sql, company, PHONE))?.voice;

describe('consent: the latest record wins', () => {
  it('an upload cannot undo a refusal with an older record or with "unknown"; a later consent does', async () => {
    await setConsent(db.sql, company, { phone: PHONE, voice: 'denied', source: 'sms STOP', recordedAt: new Date('2026-04-01T00:00:00Z') });
    await setConsents(db.sql, company, [{ phone: '+1 212 555 0123', voice: 'granted', source: 'CRM export', recordedAt: new Date('2024-01-01T00:00:00Z') }]);
    expect(await voice()).toBe('denied');
    await setConsents(db.sql, company, [{ phone: PHONE, voice: 'unknown', recordedAt: new Date('2026-06-01T00:00:00Z') }]);
    expect(await voice()).toBe('denied');
    // One record through the API, older than the refusal: the refusal stays, and is what comes back.
    const single = await setConsent(db.sql, company, { phone: PHONE, voice: 'granted', recordedAt: new Date('2025-01-01T00:00:00Z') });
    expect(single.voice).toBe('denied');
    await setConsents(db.sql, company, [{ phone: PHONE, voice: 'granted', source: 'web form', recordedAt: new Date('2026-05-01T00:00:00Z') }]);
    expect(await voice()).toBe('granted');
  });

  it('"unknown" still records a number seen for the first time', async () => {
    await setConsents(db.sql, company, [{ phone: '+12125550999', voice: 'unknown' }]);
    expect((await getConsent(db.sql, company, '+12125550999'))?.voice).toBe('unknown');
  });
});
