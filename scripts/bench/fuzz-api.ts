/**
 * REST fuzz: every operation in /openapi.json gets malformed values — in each path parameter, each query
 * parameter, each body field and the body as a whole — sent by tenant A over real HTTP, while tenant B's valid
 * reads run in parallel on the same server. Prints, from the client's side:
 *   - responses by status class; every 5xx listed (target 0);
 *   - result attribution: B's responses that are not B's own rows, or fail (target 0);
 *   - /readyz after the run (must be 200: the database still answers).
 *
 *   npm run bench:fuzz [-- --rounds 2 --concurrency 16]
 * Runs the real server in-process on port 0 with local providers; DATABASE_URL selects PostgreSQL, else PGlite.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '16' } },
});
const ROUNDS = Number(args.rounds);
const CONCURRENCY = Number(args.concurrency);

const adminToken = randomBytes(24).toString('base64url');
const config = loadConfig({
  ...process.env,
  DATA_DIR: 'memory://',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'fatal',
  ADMIN_TOKEN: adminToken,
  RATE_LIMIT_PER_MIN: '1000000',
  DEEPGRAM_API_KEY: '', OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', CARTESIA_API_KEY: '', QDRANT_URL: '',
});
const server = await startServer(config, createLogger('fatal'), { port: 0 });
const base = server.url;

async function http(method: string, path: string, key: string | null, body?: { json?: string; raw?: Buffer; type?: string }) {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body) headers['content-type'] = body.type ?? 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(body ? { body: body.raw ?? body.json ?? '' } : {}) });
  const text = await res.text();
  return { status: res.status, text };
}

async function createCompany(name: string) {
  const res = await http('POST', '/v1/admin/companies', adminToken, { json: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`company: ${res.status} ${res.text}`);
  const j = JSON.parse(res.text) as { company: { id: string }; api_key: { key: string } };
  return { id: j.company.id, key: j.api_key.key };
}

const a = await createCompany('Fuzzer');
const b = await createCompany('Bystander');
const booking = { timezone: 'America/New_York', services: [{ id: 'cut', name: 'Cut', durationMin: 30 }], resources: [{ id: 'r', name: 'R', services: ['cut'] }], hours: { mon: { open: '09:00', close: '17:00' } } };
const botOf = async (key: string, name: string) =>
  (JSON.parse((await http('POST', '/v1/bots', key, { json: JSON.stringify({ name, phone_number: null, language: 'en', config: { greeting: 'Hi', systemPrompt: '', booking } }) })).text) as { id: string }).id;
const aBot = await botOf(a.key, 'Fuzzer bot');
const bBot = await botOf(b.key, 'Bystander bot');

// ---- malformed values -------------------------------------------------------------------------------
const deepJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const junkStrings = [
  '', 'garbage', 'a\u0000b', 'x'.repeat(100_000), '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+010000-01-01T00:00:00Z',
  '-1', '1e309', 'NaN', "'; drop table calls; --", '../../etc/passwd', '\ud800', '😀'.repeat(1000), '%00', '{"a":1}',
  Buffer.from('["garbage","00000000-0000-0000-0000-000000000000"]').toString('base64url'),
  Buffer.from('[1e300]').toString('base64url'), Buffer.from('{').toString('base64url'),
];
const junkValues: unknown[] = [...junkStrings, -1, 1e300, 0.5, true, null, [], {}, [[[[]]]], { $gt: '' }];

interface Operation { method: string; path: string; pathParams: string[]; query: string[]; bodyFields: string[] | null }
const spec = JSON.parse((await http('GET', '/openapi.json', null)).text) as {
  paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>>;
};
const operations: Operation[] = [];
for (const [path, methods] of Object.entries(spec.paths)) {
  if (!path.startsWith('/v1/') || path.startsWith('/v1/admin')) continue;
  for (const [method, op] of Object.entries(methods)) {
    const params = op.parameters ?? [];
    const body = op.requestBody?.content?.['application/json']?.schema;
    operations.push({
      method: method.toUpperCase(), path,
      pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
      query: params.filter((p) => p.in === 'query').map((p) => p.name),
      bodyFields: body ? Object.keys(body.properties ?? {}) : null,
    });
  }
}

/** URL-encodes a value; a lone surrogate goes as the invalid UTF-8 bytes a hostile client would send. */
const enc = (v: string): string => {
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
};

const validPath = (op: Operation, override?: [string, string]) =>
  op.path.replace(/\{(\w+)\}/g, (_m, name: string) => enc(override && override[0] === name ? override[1] : name === 'id' && op.path.startsWith('/v1/bots/') ? aBot : '00000000-0000-4000-8000-000000000000'));

type Probe = { method: string; path: string; body?: { json?: string; raw?: Buffer; type?: string }; label: string };
const probes: Probe[] = [];
for (const op of operations) {
  for (const p of op.pathParams) for (const v of junkStrings.slice(0, 12)) probes.push({ method: op.method, path: validPath(op, [p, v]), label: `${op.method} ${op.path} path ${p}` });
  for (const q of op.query) for (const v of junkStrings) probes.push({ method: op.method, path: `${validPath(op)}?${q}=${enc(v)}`, label: `${op.method} ${op.path} ?${q}` });
  if (op.bodyFields) {
    const wholeBodies = ['', '{', '[]', 'null', '"x"', deepJson(40), deepJson(5_000), deepJson(100_000), `{"name":"${'x'.repeat(900_000)}"}`, '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}'];
    for (const w of wholeBodies) probes.push({ method: op.method, path: validPath(op), body: { json: w }, label: `${op.method} ${op.path} body ${w.slice(0, 12)}` });
    probes.push({ method: op.method, path: validPath(op), body: { raw: Buffer.from('\xff\xfe{"a"'), type: 'application/json' }, label: `${op.method} ${op.path} body bytes` });
    for (const f of op.bodyFields) for (const v of junkValues) probes.push({ method: op.method, path: validPath(op), body: { json: JSON.stringify({ [f]: v, name: 'n', bot_id: aBot, service_id: 'cut', start: '2030-01-07T10:00:00-05:00', query: 'q' }) }, label: `${op.method} ${op.path} body.${f}` });
  }
}
// A truncated multipart upload and a multipart body with two files.
const boundary = '----fuzz';
probes.push({ method: 'POST', path: `/v1/bots/${aBot}/knowledge`, body: { raw: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello`), type: `multipart/form-data; boundary=${boundary}` }, label: 'upload truncated multipart' });

// ---- run -----------------------------------------------------------------------------------------------
const byClass = new Map<string, number>();
const serverErrors: string[] = [];
const misattributed: string[] = [];
let sent = 0;

async function bystander(): Promise<void> {
  const company = await http('GET', '/v1/company', b.key);
  if (company.status !== 200 || (JSON.parse(company.text) as { id: string }).id !== b.id) misattributed.push(`GET /v1/company → ${company.status} ${company.text.slice(0, 100)}`);
  const bots = await http('GET', '/v1/bots', b.key);
  const ids = bots.status === 200 ? (JSON.parse(bots.text) as { data: { id: string }[] }).data.map((x) => x.id) : [];
  if (ids.length !== 1 || ids[0] !== bBot) misattributed.push(`GET /v1/bots → ${bots.status} ${bots.text.slice(0, 100)}`);
}

const started = performance.now();
const queue = Array.from({ length: ROUNDS }, () => probes).flat();
let next = 0;
let bystanderChecks = 0;
await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
  while (next < queue.length) {
    const p = queue[next++]!;
    try {
      const res = await http(p.method, p.path, a.key, p.body);
      sent++;
      const cls = `${Math.floor(res.status / 100)}xx`;
      byClass.set(cls, (byClass.get(cls) ?? 0) + 1);
      if (res.status >= 500) serverErrors.push(`${res.status} ${p.label}: ${res.text.slice(0, 120)}`);
    } catch (err) {
      serverErrors.push(`network error ${p.label}: ${String(err)}`);
    }
    if (worker % 4 === 0) { bystanderChecks++; await bystander(); }
  }
}));
const seconds = (performance.now() - started) / 1000;
const ready = await http('GET', '/readyz', null);

console.log(`database: ${server.db.kind}; ${operations.length} operations, ${probes.length} malformed probes × ${ROUNDS} rounds, concurrency ${CONCURRENCY}`);
console.log(`requests sent by the fuzzing tenant: ${sent} in ${seconds.toFixed(1)} s; by status: ${[...byClass].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`5xx responses: ${serverErrors.length} (target 0)`);
for (const e of [...new Set(serverErrors)].slice(0, 30)) console.log(`  ${e}`);
console.log(`bystander checks (GET /v1/company + GET /v1/bots of the other tenant, in parallel): ${bystanderChecks}; misattributed or failed: ${misattributed.length} (target 0)`);
for (const e of misattributed.slice(0, 10)) console.log(`  ${e}`);
console.log(`/readyz after the run: ${ready.status}`);
await server.stop();
process.exit(serverErrors.length || misattributed.length || ready.status !== 200 ? 1 : 0);
