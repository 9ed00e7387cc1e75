/**
 * Refuses webhook URLs that would make the server call itself, its private network or a cloud metadata
 * service (SSRF). Checked when a URL is saved (validateWebhookUrl) and again on every delivery on the address
 * actually connected to (guardedLookup), so a DNS answer that changes after saving (rebinding) cannot slip
 * through. Cloud metadata stays refused even when private addresses are allowed.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { ParleyError } from '../errors.js';

export interface UrlGuardOptions {
  /** Allow http:// (local work only). */
  allowHttp: boolean;
  /** Allow loopback/private/link-local/CGNAT/… addresses (local work only); metadata stays refused. */
  allowPrivate: boolean;
}

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);
/**
 * Cloud metadata and credential endpoints: AWS IMDS (v4 and v6), ECS task and EKS pod-identity credentials,
 * GCP's IPv6 metadata server, Alibaba Cloud, Oracle Cloud's older address. Refused even with allowPrivate,
 * including when reached through any IPv6 form that embeds one of the IPv4 addresses (see embeddedV4s).
 */
const METADATA_ADDRESSES = new Set([
  '169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', '192.0.0.192',
  'fd00:ec2::254', 'fd00:ec2::23', 'fd20:ce::254',
]);

type Range = { prefix: number[]; bits: number; reason: string };

const V4_RANGES: Range[] = [
  { prefix: [0], bits: 8, reason: 'unspecified' },
  { prefix: [10], bits: 8, reason: 'private' },
  { prefix: [100, 64], bits: 10, reason: 'cgnat' },
  { prefix: [127], bits: 8, reason: 'loopback' },
  { prefix: [169, 254], bits: 16, reason: 'link-local' },
  { prefix: [172, 16], bits: 12, reason: 'private' },
  { prefix: [192, 0, 0], bits: 24, reason: 'reserved' },
  { prefix: [192, 0, 2], bits: 24, reason: 'documentation' },
  { prefix: [192, 88, 99], bits: 24, reason: 'reserved' },
  { prefix: [192, 168], bits: 16, reason: 'private' },
  { prefix: [198, 18], bits: 15, reason: 'benchmarking' },
  { prefix: [198, 51, 100], bits: 24, reason: 'documentation' },
  { prefix: [203, 0, 113], bits: 24, reason: 'documentation' },
  { prefix: [224], bits: 4, reason: 'multicast' },
  { prefix: [240], bits: 4, reason: 'reserved' },
];

const V6_RANGES: Range[] = [
  { prefix: [0x01, 0x00, 0, 0, 0, 0, 0, 0], bits: 64, reason: 'discard' },
  { prefix: [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], bits: 48, reason: 'private' },
  { prefix: [0x20, 0x01, 0x00, 0x00], bits: 32, reason: 'tunnel' },
  { prefix: [0x20, 0x01, 0x0d, 0xb8], bits: 32, reason: 'documentation' },
  { prefix: [0xfc], bits: 7, reason: 'private' },
  { prefix: [0xfe, 0x80], bits: 10, reason: 'link-local' },
  { prefix: [0xfe, 0xc0], bits: 10, reason: 'site-local' },
  { prefix: [0xff], bits: 8, reason: 'multicast' },
];

function matches(bytes: Uint8Array, range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((range.prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(ip: string): Uint8Array | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(input: string): Uint8Array | null {
  let ip = input.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // A trailing dotted IPv4 part becomes two hex groups.
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(ip.slice(lastColon + 1));
    if (!v4) return null;
    ip = `${ip.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const w = parseInt(g, 16);
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

function classifyV4(b: Uint8Array): string | null {
  if (b[0] === 255 && b[1] === 255 && b[2] === 255 && b[3] === 255) return 'broadcast';
  return V4_RANGES.find((r) => matches(b, r))?.reason ?? null;
}

const zeroBytes = (b: Uint8Array, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
};
const v4At = (b: Uint8Array, ...idx: number[]): Uint8Array => Uint8Array.from(idx, (i) => b[i]!);

/** 64:ff9b::/96 (well-known NAT64 prefix, RFC 6052). */
const isNat64WellKnown = (b: Uint8Array): boolean =>
  b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeroBytes(b, 4, 12);
/** 64:ff9b:1::/48 (local-use NAT64 prefix, RFC 8215): the operator picks the prefix length. */
const isNat64LocalUse = (b: Uint8Array): boolean =>
  b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b[4] === 0x00 && b[5] === 0x01;

/**
 * Every IPv4 address an IPv6 address can deliver a packet to, by the standard embeddings:
 * IPv4-mapped ::ffff:a.b.c.d, SIIT ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and
 * 64:ff9b:1::/48 (at each RFC 6052 position a /48–/96 prefix puts it), 6to4 2002:AABB:CCDD::/48, Teredo
 * 2001:0::/32 (server address and the XOR-obfuscated client address), ISATAP …:0:5efe:a.b.c.d / …:200:5efe:a.b.c.d.
 */
export function embeddedV4s(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (zeroBytes(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) out.push(b.subarray(12)); // ::ffff:a.b.c.d
  else if (zeroBytes(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0) out.push(b.subarray(12)); // SIIT
  else if (zeroBytes(b, 0, 12)) out.push(b.subarray(12)); // ::a.b.c.d (deprecated compatible form)
  else if (isNat64WellKnown(b)) out.push(b.subarray(12));
  else if (isNat64LocalUse(b)) {
    // RFC 6052 2.2: bits 64–71 (byte 8) are always zero; the IPv4 address straddles them for /48 and /56.
    out.push(v4At(b, 6, 7, 9, 10), v4At(b, 7, 9, 10, 11), v4At(b, 9, 10, 11, 12), b.subarray(12));
  } else if (b[0] === 0x20 && b[1] === 0x02) out.push(b.subarray(2, 6)); // 6to4
  else if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) {
    out.push(b.subarray(4, 8), Uint8Array.from(b.subarray(12), (x) => x ^ 0xff)); // Teredo server, client
  }
  if ((b[8] === 0x00 || b[8] === 0x02) && b[9] === 0x00 && b[10] === 0x5e && b[11] === 0xfe) out.push(b.subarray(12)); // ISATAP
  return out;
}

function classifyV6(b: Uint8Array): string | null {
  if (zeroBytes(b, 0, 16)) return 'unspecified';
  if (zeroBytes(b, 0, 15) && b[15] === 1) return 'loopback';
  // The local-use NAT64 prefix is private as a whole; which IPv4 address it carries only matters for metadata.
  if (isNat64LocalUse(b)) return 'private';
  // Addresses that carry an IPv4 address inside are judged by that address (and refused if any of them is).
  const embedded = embeddedV4s(b);
  for (const v4 of embedded) {
    const reason = classifyV4(v4);
    if (reason) return reason;
  }
  if (embedded.length > 0 && (zeroBytes(b, 0, 8) || isNat64WellKnown(b))) return null; // mapped/compatible/SIIT/NAT64 of a public IPv4
  return V6_RANGES.find((r) => matches(b, r))?.reason ?? null;
}

/** Why an IP address must not be called ('loopback', 'private', 'cloud-metadata', …), or null when it is public. */
export function blockedAddressReason(ip: string): string | null {
  const family = isIP(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (family === 0) return 'not an IP address';
  const bytes = family === 4 ? parseV4(ip) : parseV6(ip);
  if (!bytes) return 'not an IP address';
  if (family === 4) return METADATA_ADDRESSES.has(bytes.join('.')) ? 'cloud-metadata' : classifyV4(bytes);
  if (METADATA_ADDRESSES.has(canonicalV6(bytes))) return 'cloud-metadata';
  if (embeddedV4s(bytes).some((v4) => METADATA_ADDRESSES.has(v4.join('.')))) return 'cloud-metadata';
  return classifyV6(bytes);
}

function canonicalV6(b: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Longest run of zero words becomes "::".
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return words.join(':');
  return `${words.slice(0, best.at).join(':')}::${words.slice(best.at + best.len).join(':')}`;
}

/** Whether WEBHOOK_ALLOW_PRIVATE admits an address refused for `reason`: every private range, never cloud metadata. */
const allowPrivateLifts = (reason: string): boolean => reason !== 'cloud-metadata' && reason !== 'not an IP address';

function isAllowed(ip: string, allowPrivate: boolean): string | null {
  const reason = blockedAddressReason(ip);
  if (reason === null) return null;
  if (allowPrivate && allowPrivateLifts(reason)) return null;
  return reason;
}

function hostBlockReason(host: string, allowPrivate: boolean): string | null {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (METADATA_HOSTS.has(h)) return 'cloud-metadata';
  if (!allowPrivate && (h === 'localhost' || h.endsWith('.localhost'))) return 'loopback';
  return null;
}

const unsafe = (message: string) => new ParleyError('PARLEY_ERR_UNSAFE_URL', message);
/** What a developer trying a receiver on their own machine needs to hear (never said of cloud metadata). */
const LOCAL_HTTP = ' (a server started with WEBHOOK_ALLOW_HTTP=true also takes http, for local work)';
const localPrivate = (reason: string) =>
  !allowPrivateLifts(reason) ? '' : ' (webhooks go to public addresses; a server started with WEBHOOK_ALLOW_PRIVATE=true also takes this one, for local work)';

export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs.map((a) => a.address)))),
  );

/**
 * Save-time check. Returns the normalised URL or throws PARLEY_ERR_UNSAFE_URL naming the problem.
 * A host that does not resolve is refused too (a typo would otherwise fail every delivery for a day).
 */
export async function validateWebhookUrl(raw: string, options: UrlGuardOptions & { resolve?: Resolver }): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw unsafe('Webhook URL is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(options.allowHttp && url.protocol === 'http:')) {
    throw unsafe(options.allowHttp ? 'Webhook URL must use http or https' : `Webhook URL must use https${LOCAL_HTTP}`);
  }
  if (url.username || url.password) throw unsafe('Webhook URL must not contain credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const hostReason = hostBlockReason(host, options.allowPrivate);
  if (hostReason) throw unsafe(`Webhook host is not allowed (${hostReason})${localPrivate(hostReason)}`);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await (options.resolve ?? systemResolver)(host);
    } catch {
      throw unsafe('Webhook host does not resolve');
    }
    if (addresses.length === 0) throw unsafe('Webhook host does not resolve');
  }
  for (const a of addresses) {
    const reason = isAllowed(a, options.allowPrivate);
    if (reason) throw unsafe(`Webhook host resolves to a ${reason} address${localPrivate(reason)}`);
  }
  return url.toString();
}

export class UnsafeAddressError extends Error {
  readonly code = 'EUNSAFEADDRESS';
  constructor(host: string, address: string, reason: string) {
    super(`refused to connect to ${host}: ${address} is a ${reason} address`);
    this.name = 'UnsafeAddressError';
  }
}

/** Check an address about to be connected to (IP-literal hosts never go through a lookup). */
export function checkConnectAddress(host: string, address: string, allowPrivate: boolean): void {
  const hostReason = hostBlockReason(host, allowPrivate);
  if (hostReason) throw new UnsafeAddressError(host, address, hostReason);
  const reason = isAllowed(address, allowPrivate);
  if (reason) throw new UnsafeAddressError(host, address, reason);
}

/**
 * A `lookup` for http.request/net.connect that resolves, then refuses if ANY answer is unsafe, so the address
 * connected to is one that was checked (defeats DNS rebinding between save time and delivery).
 */
export function guardedLookup(allowPrivate: boolean, lookupImpl: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    lookupImpl(hostname, { all: true, family: options.family ?? 0, hints: options.hints ?? 0, verbatim: true }, (err, addrs: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      try {
        if (addrs.length === 0) throw Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENOTFOUND' });
        for (const a of addrs) checkConnectAddress(hostname, a.address, allowPrivate);
      } catch (e) {
        return callback(e as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addrs);
      else callback(null, addrs[0]!.address, addrs[0]!.family);
    });
  };
}
