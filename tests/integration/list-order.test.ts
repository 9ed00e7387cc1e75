/**
 * The README says every list is newest first: a campaign's contacts and the admin's companies were listed by their
 * random ids. Both now page by (created_at desc, id desc), each row exactly once, and the state filter keeps it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from '../helpers/app.js';
import { campaignHarness, type Harness } from './campaign-harness.js';

describe('lists newest first', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await campaignHarness();
  });
  afterAll(async () => h.close());

  /** Every row of a list, page by page. */
  async function allPages<T>(url: string, headers: Record<string, string>, limit: number): Promise<T[]> {
    const rows: T[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.t.app.inject({ method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, headers });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { data: T[]; next_cursor: string | null };
      rows.push(...body.data);
      cursor = body.next_cursor;
    } while (cursor);
    return rows;
  }
  const newestFirst = (rows: { id: string; created_at: string }[]) =>
    [...rows].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id)).map((r) => r.id);

  it("pages a campaign's contacts newest first, each once, with and without a state filter", async () => {
    const me = await h.company();
    const created = await h.api(me.apiKey, 'POST', '/v1/campaigns', { bot_id: me.botId, name: 'Order' });
    const id = created.json().id as string;
    // Three uploads, one after another: the last one's contacts come first.
    const uploads = [['+12125550401', '+12125550402', '+12125550403'], ['+12125550404', '+12125550405'], ['+12125550406', '+12125550407', '+12125550408']];
    for (const phones of uploads) {
      const res = await h.api(me.apiKey, 'POST', `/v1/campaigns/${id}/contacts`, { contacts: phones.map((phone) => ({ phone })) });
      expect(res.statusCode, res.body).toBeLessThan(300);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const listed = await allPages<{ id: string; phone: string; created_at: string }>(`/v1/campaigns/${id}/contacts`, h.t.as(me.apiKey), 2);
    expect(listed).toHaveLength(8);
    expect(listed.map((c) => c.id)).toEqual(newestFirst(listed));
    const uploadOf = (phone: string) => uploads.findIndex((u) => u.includes(phone));
    expect(listed.map((c) => uploadOf(c.phone))).toEqual([2, 2, 2, 1, 1, 0, 0, 0]);

    const pending = await allPages<{ id: string; created_at: string }>(`/v1/campaigns/${id}/contacts?state=pending`, h.t.as(me.apiKey), 3);
    expect(pending.map((c) => c.id)).toEqual(listed.map((c) => c.id));
  });

  it("pages the admin's companies newest first, each once", async () => {
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push((await h.t.createCompany(`Order ${i}`)).companyId);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const listed = await allPages<{ id: string; created_at: string }>('/v1/admin/companies', { authorization: `Bearer ${ADMIN_TOKEN}` }, 2);
    expect(new Set(listed.map((c) => c.id)).size).toBe(listed.length);
    expect(listed.map((c) => c.id)).toEqual(newestFirst(listed));
    expect(listed.slice(0, 4).map((c) => c.id)).toEqual([...made].reverse());
  });
});
