/**
 * What the API refuses in a JSON body before its schema is checked (api/request-guards.ts for every request; the
 * bulk uploads' own threads, campaigns/upload-body.ts, for the bodies they parse there):
 * - JSON nested deeper than MAX_BODY_DEPTH, found by a linear scan before the text is parsed. Deep nesting costs
 *   recursion wherever a value travels (validation, JSON.stringify, the database driver).
 * - A NUL character in any string or key: PostgreSQL text cannot hold one, and no field of this API means one.
 * - An unpaired UTF-16 surrogate ("\ud800", which JSON's escapes allow): it is not Unicode text — jsonb refuses
 *   it, and a text column would store U+FFFD in its place, silently not what was sent.
 * - Bytes that are not UTF-8 (any text body: JSON, the CSV uploads): decoding puts U+FFFD in their place, so a
 *   name sent in Windows-1252 was stored as "Jos\ufffd", silently not what was sent.
 * - A key named `__proto__`, or `constructor` holding `prototype` (prototype poisoning): refused by the parsers,
 *   and said as such with the field, not as "not valid JSON" of a body that is.
 */
import { isUtf8 } from 'node:buffer';
import { badRequest, type ParleyError } from '../errors.js';
import { LONE_SURROGATE } from './storable-text.js';

export const MAX_BODY_DEPTH = 32;

/** A JSON content-type with nothing after it (a POST written with -H 'content-type: application/json' and no -d). */
export const EMPTY_JSON_BODY = 'The body is empty but content-type says JSON: send a JSON body, or no content-type';

/**
 * A text body's bytes as a string, or the refusal of bytes that are not UTF-8 (`what` names the body: "Body",
 * "CSV"). JSON is UTF-8 by its RFC; a CSV saved in another encoding is told so, not stored with U+FFFD.
 */
export function utf8BodyText(bytes: Buffer, what = 'Body'): string | ParleyError {
  if (!isUtf8(bytes)) return badRequest(`${what} is not UTF-8 text: send it encoded as UTF-8 (a Windows-1252, Latin-1 or UTF-16 text is the usual cause)`);
  return bytes.toString('utf8');
}

/** The deepest nesting of objects and arrays in JSON text, stopping early once past `limit`. Strings are skipped. */
export function jsonNestingDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** How JSON text writes a surrogate (raw UTF-8 cannot hold an unpaired one): the body is walked only if this appears. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** What makes a string unstorable as text, or null. */
function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'a NUL character';
  if (LONE_SURROGATE.test(s)) return 'an unpaired UTF-16 surrogate (not valid Unicode text)';
  return null;
}

/**
 * The first string or key that cannot be stored as text (a NUL, an unpaired surrogate): its path and why, or
 * null. Iterative: depth is already bounded.
 */
export function findUnstorableText(root: unknown, rootPath: string): { field: string; problem: string } | null {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { field: path, problem };
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}.${i}`]));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const problem = textProblem(k);
        if (problem) return { field: path, problem: `a key with ${problem}` };
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}

export const unstorableError = ({ field, problem }: { field: string; problem: string }) => badRequest(`${field} contains ${problem}`, { field });

/** The refusal of JSON text nested deeper than MAX_BODY_DEPTH (checked before parsing it), or null. */
export function nestingError(text: string): ParleyError | null {
  return jsonNestingDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH ? badRequest(`Body is nested deeper than ${MAX_BODY_DEPTH} levels`) : null;
}

/** The refusal of a parsed body (`value`, from `text`) with a string or key that cannot be stored as text, or null. */
export function unstorableTextError(text: string, value: unknown): ParleyError | null {
  // In JSON text a NUL or an unpaired surrogate can only be written as an escape: walk the value only then.
  const bad = text.includes('u0000') || SURROGATE_ESCAPE.test(text) ? findUnstorableText(value, 'body') : null;
  return bad ? unstorableError(bad) : null;
}

/** Whether `key` (holding `value`) is one the parsers refuse: `__proto__`, or `constructor` with a `prototype`. */
export function isPrototypeKey(key: string, value: unknown): boolean {
  return key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype'));
}

/**
 * The refusal of JSON text that is valid JSON but holds a prototype key, naming the object that holds it; null when
 * the text is not JSON at all (then it is just that). Only on the path where a parser already refused the text.
 */
export function prototypeKeyError(text: string, rootPath = 'body'): ParleyError | null {
  let value: unknown;
  try {
    value = JSON.parse(text); // keeps __proto__ as an own key, so it can be found
  } catch {
    return null;
  }
  const found = findPrototypeKey(value, rootPath);
  if (!found) return null;
  return badRequest(`${found.field} has a key named ${found.key}: keys that would reach an object's prototype are refused`, { field: found.field });
}

/** The first prototype key and the path of the object holding it, or null. Iterative: depth is already bounded. */
function findPrototypeKey(root: unknown, rootPath: string): { field: string; key: string } | null {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${path}.${i}`]));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (isPrototypeKey(k, x)) return { field: path, key: k === '__proto__' ? '__proto__' : 'constructor holding prototype' };
        stack.push([x, `${path}.${k}`]);
      }
    }
  }
  return null;
}
