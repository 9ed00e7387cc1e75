/**
 * A Qdrant REST server on port 0 for adapter tests. It checks the shape of every request the client sends —
 * collection creation, payload indexes (company_id must be a keyword index with is_tenant), upserts, queries
 * (which must filter by company_id AND bot_id), deletes by filter (which must name the company) — records
 * each one, keeps points in memory, scores queries by cosine, and answers with Qdrant's envelope
 * `{ result, status: 'ok', time }`. A malformed request is answered 400 and listed in `violations`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Point {
  id: string;
  vector: number[];
  payload: Record<string, unknown>;
}

interface Collection {
  size: number;
  distance: string;
  indexes: Map<string, unknown>;
  points: Map<string, Point>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

type Condition = { key: string; match: { value: string } };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAYLOAD_KEYS = ['doc_id', 'bot_id', 'company_id', 'text', 'source', 'page', 'section', 'created_at'];

class Violation extends Error {}

function must(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Violation(message);
}

export class FakeQdrant {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly collections = new Map<string, Collection>();
  /** Operations to fail once with 503 (e.g. 'upsert'), to test cleanup paths. */
  failNext = new Set<'upsert' | 'query' | 'delete'>();
  /** Delay before answering a points query/search (a slow Qdrant). */
  queryDelayMs = 0;
  private server: Server | null = null;

  /** Listens on `port` (0: any free one); after stop(), start(samePort) brings "the same Qdrant" back. */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Points of a collection matching payload values. */
  points(collection: string, where: Record<string, string> = {}): Point[] {
    const c = this.collections.get(collection);
    if (!c) return [];
    return [...c.points.values()].filter((p) => Object.entries(where).every(([k, v]) => p.payload[k] === v));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    if (this.queryDelayMs > 0 && /\/points\/(query|search)/.test(url.pathname)) await new Promise((r) => setTimeout(r, this.queryDelayMs));
    const send = (status: number, result: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status < 300 ? { result, status: 'ok', time: 0.0001 } : { status: { error: String(result) }, time: 0.0001 }));
    };
    if (method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ title: 'qdrant - vector search engine', version: '1.18.0' }));
    }
    try {
      const out = this.route(method, url.pathname.split('/').filter(Boolean), body);
      if (out === 'unavailable') return send(503, 'Service unavailable (injected)');
      send(out.status ?? 200, out.result);
    } catch (err) {
      if (err instanceof Violation) {
        this.violations.push(`${method} ${url.pathname}: ${err.message}`);
        return send(400, err.message);
      }
      send(500, (err as Error).message);
    }
  }

  private route(method: string, parts: string[], body: unknown): { status?: number; result: unknown } | 'unavailable' {
    must(parts[0] === 'collections' && parts[1], `unexpected path /${parts.join('/')}`);
    const name = parts[1]!;
    const rest = parts.slice(2).join('/');
    const b = (body ?? {}) as Record<string, unknown>;
    const collection = this.collections.get(name);

    if (method === 'GET' && rest === 'exists') return { result: { exists: Boolean(collection) } };
    if (method === 'GET' && rest === '') {
      if (!collection) return { status: 404, result: `Collection ${name} not found` };
      return { result: { status: 'green', points_count: collection.points.size, config: { params: { vectors: { size: collection.size, distance: collection.distance } } } } };
    }
    if (method === 'PUT' && rest === '') {
      const vectors = b.vectors as { size?: unknown; distance?: unknown } | undefined;
      must(vectors && Number.isInteger(vectors.size) && (vectors.size as number) > 0, 'vectors.size must be a positive integer');
      must(['Cosine', 'Dot', 'Euclid', 'Manhattan'].includes(String(vectors.distance)), 'vectors.distance must be a Distance');
      if (collection) return { status: 409, result: `Collection ${name} already exists` };
      this.collections.set(name, { size: vectors.size as number, distance: String(vectors.distance), indexes: new Map(), points: new Map() });
      return { result: true };
    }
    must(collection, `collection ${name} does not exist`);

    if (method === 'PUT' && rest === 'index') {
      const field = b.field_name;
      const schema = b.field_schema as string | { type?: string; is_tenant?: boolean };
      must(typeof field === 'string' && field, 'field_name is required');
      const type = typeof schema === 'string' ? schema : schema?.type;
      must(type === 'keyword', `field ${field} should be a keyword index`);
      if (field === 'company_id') must(typeof schema === 'object' && schema.is_tenant === true, 'company_id index must set is_tenant: true');
      collection.indexes.set(field, schema);
      return { result: { operation_id: 1, status: 'completed' } };
    }
    if (method === 'PUT' && rest === 'points') {
      if (this.failNext.delete('upsert')) return 'unavailable';
      const points = b.points as Point[] | undefined;
      must(Array.isArray(points) && points.length > 0, 'points must be a non-empty array');
      for (const p of points) {
        must(typeof p.id === 'string' && UUID.test(p.id), `point id ${String(p.id)} must be a UUID`);
        must(Array.isArray(p.vector) && p.vector.length === collection.size && p.vector.every((x) => typeof x === 'number'), `point ${p.id}: vector must be ${collection.size} numbers`);
        for (const k of PAYLOAD_KEYS) must(p.payload && k in p.payload, `point ${p.id}: payload.${k} missing`);
      }
      for (const p of points) collection.points.set(p.id, p);
      return { result: { operation_id: 2, status: 'completed' } };
    }
    if (method === 'POST' && rest === 'points/query') {
      if (this.failNext.delete('query')) return 'unavailable';
      const query = b.query as number[];
      must(Array.isArray(query) && query.length === collection.size, `query must be a ${collection.size}-number vector`);
      const conds = this.conditions(b.filter);
      must(conds.company_id && conds.bot_id, 'query must filter by company_id and bot_id');
      must(Number.isInteger(b.limit) && (b.limit as number) > 0, 'limit must be a positive integer');
      must(b.with_payload === true, 'with_payload must be true');
      const hits = [...collection.points.values()]
        .filter((p) => Object.entries(conds).every(([k, v]) => p.payload[k] === v))
        .map((p) => ({ id: p.id, version: 0, score: cosine(query, p.vector), payload: p.payload }))
        .sort((x, y) => y.score - x.score)
        .slice(0, b.limit as number);
      return { result: { points: hits } };
    }
    if (method === 'POST' && rest === 'points/delete') {
      if (this.failNext.delete('delete')) return 'unavailable';
      const conds = this.conditions(b.filter);
      must(conds.company_id, 'delete must filter by company_id');
      const { should, must_not: mustNot } = b.filter as { should?: unknown[]; must_not?: unknown[] };
      for (const [id, p] of collection.points) {
        if (!Object.entries(conds).every(([k, v]) => p.payload[k] === v)) continue;
        if (should && !should.some((c) => holds(c, p.payload))) continue;
        if (mustNot?.some((c) => holds(c, p.payload))) continue;
        collection.points.delete(id);
      }
      return { result: { operation_id: 3, status: 'completed' } };
    }
    throw new Violation(`unexpected ${method} /${parts.join('/')}`);
  }

  /** A filter `{ must: [{ key, match: { value } }] }` as key → value; anything else is a violation. */
  private conditions(filter: unknown): Record<string, string> {
    const f = filter as { must?: Condition[] } | undefined;
    must(f && Array.isArray(f.must), 'filter.must must be an array');
    const out: Record<string, string> = {};
    for (const c of f.must) {
      must(typeof c.key === 'string' && c.match && typeof c.match.value === 'string', 'each condition must be { key, match: { value } }');
      out[c.key] = c.match.value;
    }
    return out;
  }
}

/**
 * Whether a payload meets one condition of a `should` or `must_not` clause: `{ key, match: { value | any } }`,
 * `{ key, range: { gt } }` (false for a missing key, as in Qdrant) or `{ is_empty: { key } }`.
 */
function holds(condition: unknown, payload: Record<string, unknown>): boolean {
  const c = condition as { key?: string; match?: { value?: unknown; any?: unknown[] }; range?: { gt?: number }; is_empty?: { key: string } };
  if (c.is_empty) return payload[c.is_empty.key] === undefined || payload[c.is_empty.key] === null;
  must(typeof c.key === 'string', 'a condition needs a key');
  const v = payload[c.key];
  if (c.match && 'any' in c.match) return Array.isArray(c.match.any) && c.match.any.includes(v);
  if (c.match && 'value' in c.match) return v === c.match.value;
  if (c.range && typeof c.range.gt === 'number') return typeof v === 'number' && v > c.range.gt;
  throw new Violation(`unsupported condition ${JSON.stringify(condition)}`);
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
