/**
 * Every enumerated value the API and the webhooks send comes from one list in src, and the docs list exactly that
 * list: each value is documented, and nothing documented is missing from it (docs/webhooks.md once named a
 * `call.ended` reason `shutdown` the server never sent, and left out budget_exhausted, dial_lost and
 * premium_rate_number).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BOOKING_STATUSES } from '../../src/bookings/state-machine.js';
import { CALL_END_REASONS } from '../../src/call/end-reasons.js';
import { CAMPAIGN_STATUSES } from '../../src/campaigns/repo.js';
import { CAMPAIGN_ATTEMPT_OUTCOMES, CONTACT_SKIP_REASONS } from '../../src/campaigns/vocabulary.js';
import { CALL_STATUSES, isLiveStatus } from '../../src/db/calls.js';
import { DEFAULT_OUTCOME_TYPES } from '../../src/outcomes/defaults.js';
import { TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES } from '../../src/webhooks/emit.js';
import { DELIVERY_STATUSES } from '../../src/webhooks/outbox.js';

const doc = (name: string): string => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');
const webhooks = doc('docs/webhooks.md');

/**
 * The values a piece of docs names: its `code` spans, a span holding a chain (`a → b → c`) read as its values, and
 * a value's detail (`number_refused: …`, `caller_hangup: stop`, `caller_hangup…`) dropped. Values are lower-case
 * words: a setting named beside them (`OUTBOUND_ALLOWED_PREFIXES`) is not one.
 */
function valuesIn(text: string): string[] {
  const spans = [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return spans.flatMap((s) => s.split(/\s*(?:→|⇄|\|)\s*/)).map((v) => v.split(':')[0]!.replace(/…$/, '').trim()).filter((v) => /^[a-z][a-z0-9_.]*$/.test(v));
}

/** The text between `start` and the first `end` after it (throws when either is missing: the docs moved). */
function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  if (from < 0) throw new Error(`docs lack "${start}"`);
  const to = text.indexOf(end, from + start.length);
  if (to < 0) throw new Error(`docs lack "${end}" after "${start}"`);
  return text.slice(from + start.length, to);
}

/** What the parenthesis right after `label` holds (nested parentheses included). */
function parenthesisAfter(text: string, label: string): string {
  const at = text.indexOf(`${label} (`);
  if (at < 0) throw new Error(`docs lack "${label} ("`);
  let depth = 0;
  for (let i = at + label.length + 1; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(at + label.length + 2, i);
  }
  throw new Error(`unclosed parenthesis after "${label}"`);
}

/** A row of docs/webhooks.md's table of events. */
function eventRow(type: string): string {
  const row = webhooks.split('\n').find((line) => line.startsWith(`| \`${type}\` |`));
  if (!row) throw new Error(`docs/webhooks.md has no row for ${type}`);
  return row;
}

/** The documented values are exactly the list's, each once. */
function expectSameValues(documented: string[], list: readonly string[], where: string): void {
  const missing = list.filter((v) => !documented.includes(v));
  const unknown = documented.filter((v) => !list.includes(v));
  expect({ missing, unknown }, `${where}: missing from the docs / documented but never sent`).toEqual({ missing: [], unknown: [] });
}

describe('the docs list exactly what the server sends', () => {
  it('the table of webhook events: every event type, and no other', () => {
    const rows = webhooks.split('\n').filter((line) => /^\| `[a-z_.]+` \|/.test(line)).map((line) => /^\| `([^`]+)`/.exec(line)![1]!);
    expectSameValues(rows, [...WEBHOOK_EVENT_TYPES, TEST_EVENT_TYPE], 'event types');
  });

  it('no other markdown file keeps a copy of the events table that has drifted (src/webhooks/README.md once did)', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const markdown = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
      if (e.isDirectory() && !['node_modules', 'dist', '.git'].includes(e.name)) return markdown(join(dir, e.name));
      return e.isFile() && e.name.endsWith('.md') ? [join(dir, e.name)] : [];
    });
    const drifted: Record<string, unknown> = {};
    for (const file of markdown('.')) {
      const rows = readFileSync(join(root, file), 'utf8').split('\n')
        .map((line) => /^\| `((?:call|booking|knowledge|campaign|webhook)\.[a-z_.]+)` \|/.exec(line)?.[1]).filter((t): t is string => !!t);
      if (rows.length === 0) continue;
      const all = [...WEBHOOK_EVENT_TYPES, TEST_EVENT_TYPE];
      const missing = all.filter((t) => !rows.includes(t));
      const unknown = rows.filter((t) => !(all as string[]).includes(t));
      if (missing.length || unknown.length) drifted[file] = { missing, unknown };
    }
    expect(drifted).toEqual({});
  });

  it('call.ended: its statuses and its reasons', () => {
    const row = eventRow('call.ended');
    expectSameValues(valuesIn(parenthesisAfter(row, '`status`')), CALL_STATUSES.filter((s) => !isLiveStatus(s)), 'call.ended status');
    expectSameValues(valuesIn(parenthesisAfter(row, '`reason`')), CALL_END_REASONS, 'call.ended reason');
  });

  it('call.analyzed: the default outcome types', () => {
    const listed = valuesIn(parenthesisAfter(webhooks, '`outcome_type`').split(';')[0]!);
    expectSameValues(listed, DEFAULT_OUTCOME_TYPES.map((t) => t.name), 'default outcome types');
    // Each is defined where the docs say what the outcome tells.
    const definitions = between(webhooks, 'The outcome tells how the call ended:', 'the offline summary');
    for (const t of DEFAULT_OUTCOME_TYPES) expect(definitions, `no definition of ${t.name}`).toContain(`\`${t.name}\``);
  });

  it('campaign.attempt.ended outcomes and campaign.contact.skipped reasons', () => {
    expectSameValues(valuesIn(parenthesisAfter(eventRow('campaign.attempt.ended'), '`outcome`')), CAMPAIGN_ATTEMPT_OUTCOMES, 'attempt outcome');
    expectSameValues(valuesIn(parenthesisAfter(eventRow('campaign.contact.skipped'), '`reason`')), CONTACT_SKIP_REASONS, 'skip reason');
  });

  it('delivery statuses, campaign states and booking states', () => {
    expectSameValues(valuesIn(between(webhooks, '**Statuses.**', ' (the URL')), DELIVERY_STATUSES, 'delivery status');
    expectSameValues(valuesIn(between(doc('docs/campaigns.md'), '**States**:', ' through')), CAMPAIGN_STATUSES, 'campaign state');
    expectSameValues(valuesIn(between(doc('docs/bookings.md'), 'States: ', '; every')), BOOKING_STATUSES, 'booking state');
  });
});
