/**
 * The ONLY module that reads the environment. Every variable is validated here and documented in the README
 * (the table there is checked against VARIABLES by a test). A bad value fails fast, naming the variable.
 */

import { BlockList, isIP } from 'node:net';

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Kind =
  | { type: 'string' }
  | { type: 'url'; protocols: string[]; example?: string }
  | { type: 'int'; min: number; max: number }
  /** A non-negative decimal number (prices). */
  | { type: 'decimal'; max: number }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[] };

interface VariableSpec {
  kind: Kind;
  default?: string;
  secret?: boolean;
  doc: string;
}

/** Every environment variable Parley reads, with its default and meaning. */
export const VARIABLES = {
  PORT: { kind: { type: 'int', min: 0, max: 65535 }, default: '3000', doc: 'HTTP port' },
  HOST: { kind: { type: 'string' }, default: '0.0.0.0', doc: 'Interface to listen on' },
  PUBLIC_URL: {
    kind: { type: 'url', protocols: ['http:', 'https:'], example: 'https://voice.example.com' },
    default: 'http://localhost:3000',
    doc: 'Public origin Twilio and browsers reach this server at; Twilio signatures are checked against it (unset with PORT set: http://localhost:PORT)',
  },
  LOG_LEVEL: { kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', doc: 'pino log level' },
  DATABASE_URL: { kind: { type: 'url', protocols: ['postgres:', 'postgresql:'] }, secret: true, doc: 'PostgreSQL server; unset = embedded PGlite under DATA_DIR' },
  DATA_DIR: { kind: { type: 'string' }, default: './data', doc: 'Where embedded PGlite keeps its files (memory:// for a throwaway database)' },
  DATABASE_POOL_MAX: { kind: { type: 'int', min: 1, max: 100 }, default: '10', doc: 'postgres.js pool size for a real server (PGlite always uses 1)' },
  DATABASE_QUERY_TIMEOUT_MS: {
    kind: { type: 'int', min: 1000, max: 600_000 }, default: '5000',
    doc: 'PostgreSQL only: how long an API request or a live call waits for one query (a pooled connection included) before it answers 503 / goes on without it; background work waits up to 120 s, PGlite has none',
  },
  ADMIN_TOKEN: { kind: { type: 'string' }, secret: true, doc: 'Bearer token for /v1/admin, at least 32 characters (a shorter one stops the start); unset = one is generated into DATA_DIR/admin-token' },
  METRICS_TOKEN: {
    kind: { type: 'string' }, secret: true,
    doc: 'Bearer token /metrics then asks for (Prometheus: `authorization: {credentials: …}`), at least 32 characters; unset = /metrics answers anyone who reaches it (keep it on the operator\'s network)',
  },
  RATE_LIMIT_PER_MIN: { kind: { type: 'int', min: 1, max: 1_000_000 }, default: '600', doc: 'Requests per minute per company (all its API keys) on /v1' },
  AUTH_FAILURES_PER_MIN: {
    kind: { type: 'int', min: 1, max: 100_000 }, default: '20',
    doc: 'Failed API-key or admin-token authentications per client IP per minute; beyond, 429 with Retry-After until the minute is over',
  },
  TWILIO_RATE_LIMIT_PER_MIN: { kind: { type: 'int', min: 1, max: 1_000_000 }, default: '1200', doc: 'Requests per minute per client IP on the Twilio webhooks (429 beyond)' },
  TRUST_PROXY: {
    kind: { type: 'string' }, default: 'loopback',
    doc: 'Which peers may set X-Forwarded-For (the client IP that rate limits count by): true, false, a hop count, or addresses/CIDRs/loopback,linklocal,uniquelocal. Name your load balancer here: any client of a trusted peer can claim any address',
  },
  HTTP_HEADERS_TIMEOUT_MS: {
    kind: { type: 'int', min: 1000, max: 120_000 }, default: '10000',
    doc: 'How long a client may take to send a request\'s headers (a WebSocket upgrade\'s included) before its connection is dropped; slow-header clients otherwise hold connections for a minute',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    kind: { type: 'int', min: 10_000, max: 3_600_000 }, default: '300000',
    doc: 'How long a whole request may take to arrive, its body included: a knowledge upload of UPLOAD_MAX_BYTES must arrive within it (20 MiB in 300 s is 70 KB/s). At least HTTP_HEADERS_TIMEOUT_MS; call sockets are not bound by it once upgraded',
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    kind: { type: 'int', min: 1000, max: 600_000 }, default: '5000',
    doc: 'How long an idle keep-alive connection stays open. Behind a load balancer set it above the balancer\'s idle timeout (AWS ALB: 60 s, so 65000), or it may send a request on a connection the server is closing',
  },
  MAX_CONNECTIONS: {
    kind: { type: 'int', min: 0, max: 1_000_000 }, default: '0',
    doc: 'Connections one server process accepts at once (HTTP, call sockets); more are dropped. 0 = a quarter of the process\'s open-file limit (ulimit -n; 800 where it cannot be read): a live call holds its own socket and about 3 to its providers. Set explicitly, keep it below that limit with the same room, plus the database pool and files',
  },
  MAX_UNAUTHENTICATED_CONNECTIONS_PER_IP: {
    kind: { type: 'int', min: 0, max: 100_000 }, default: '64',
    doc: 'Connections one client IP may hold open in each process before they authenticate (an API key or the admin token accepted, a valid Twilio signature, a call socket whose start was accepted); an answered request is no authentication. At the cap a new connection closes that IP\'s longest-open idle kept-alive one, or is dropped when none is idle. An authenticated connection no longer counts, so Twilio\'s concurrent calls and webhooks are not capped. From a TRUST_PROXY peer it counts WebSocket upgrades by the forwarded client IP instead (429). 0 = off',
  },
  SHUTDOWN_TIMEOUT_MS: { kind: { type: 'int', min: 0, max: 600_000 }, default: '10000', doc: 'How long SIGTERM (or SIGINT) waits for live calls to say goodbye and for in-flight work; 3 s past it the process exits anyway (code 1, logged), and a second signal a second or more after the first exits at once' },
  CALL_TOKEN_SECRET: { kind: { type: 'string' }, secret: true, doc: 'HMAC key for media-stream and web-call tokens, at least 32 characters (a shorter one stops the start); unset = generated into DATA_DIR/call-token-secret' },
  TWILIO_ACCOUNT_SID: { kind: { type: 'string' }, doc: 'Twilio account SID (REST: transfer, hang-up, outbound)' },
  TWILIO_AUTH_TOKEN: { kind: { type: 'string' }, secret: true, doc: "Twilio auth token; checks the signature of Twilio's webhooks and media streams, and authenticates outbound calls. Unset = a development token is generated once into `DATA_DIR/twilio-auth-token` (a new one per start with `memory://`): requests signed with it (the simulator, `npm run call`) are accepted, real Twilio traffic fails its signature check, and outbound calls are off" },
  TWILIO_API_URL: { kind: { type: 'url', protocols: ['http:', 'https:'] }, default: 'https://api.twilio.com', doc: 'Twilio REST base (tests point it at a fake)' },
  OUTBOUND_MAX_ACTIVE_PER_COMPANY: { kind: { type: 'int', min: 0, max: 100_000 }, default: '10', doc: 'Outbound calls a company may have ringing or live at once (429 beyond); 0 = outbound calls off' },
  BOTS_MAX_PER_COMPANY: { kind: { type: 'int', min: 1, max: 100_000 }, default: '500', doc: 'Bots a company may have, deactivated ones included (409 beyond)' },
  API_KEYS_MAX_PER_COMPANY: { kind: { type: 'int', min: 1, max: 100_000 }, default: '100', doc: 'API keys a company may hold unrevoked (409 beyond; revoking one frees its place)' },
  CAMPAIGNS_MAX_OPEN_PER_COMPANY: { kind: { type: 'int', min: 1, max: 100_000 }, default: '100', doc: 'Campaigns a company may have not yet ended — draft, scheduled, running or paused (409 beyond; cancelling one frees its place)' },
  CAMPAIGN_CONTACTS_MAX: { kind: { type: 'int', min: 1, max: 100_000_000 }, default: '1000000', doc: 'Contacts one campaign may hold (an upload that would pass it is 409 and adds nothing; start another campaign)' },
  WEB_CALLS_MAX_ACTIVE_PER_COMPANY: { kind: { type: 'int', min: 0, max: 100_000 }, default: '50', doc: 'Web calls a company may have open at once, tokens minted and not yet used included (429 beyond); 0 = web calls off' },
  OUTBOUND_ALLOWED_PREFIXES: { kind: { type: 'string' }, doc: 'Comma-separated E.164 prefixes Parley may dial (e.g. +1,+44): outbound calls, campaigns and transfers; unset = any' },
  OUTBOUND_ALLOW_PREMIUM_RATE: { kind: { type: 'bool' }, default: 'false', doc: 'Let outbound calls, campaigns and transfers dial premium-rate, shared-cost and UAN numbers (+1900…, +44909…); off = refused (409 premium_rate_number; a transferNumber 400)' },
  DEFAULT_STT: { kind: { type: 'enum', values: ['deepgram', 'local'] }, doc: 'Server-wide STT; unset = deepgram if DEEPGRAM_API_KEY else local' },
  DEFAULT_LLM: { kind: { type: 'enum', values: ['openai', 'anthropic', 'local'] }, doc: 'Server-wide LLM; unset = openai, anthropic, then local by which key is set' },
  DEFAULT_TTS: { kind: { type: 'enum', values: ['cartesia', 'local'] }, doc: 'Server-wide TTS; unset = cartesia if CARTESIA_API_KEY else local' },
  DEEPGRAM_API_KEY: { kind: { type: 'string' }, secret: true, doc: 'Deepgram key' },
  DEEPGRAM_URL: { kind: { type: 'url', protocols: ['wss:', 'ws:'] }, default: 'wss://api.deepgram.com', doc: 'Deepgram websocket base' },
  DEEPGRAM_MODEL: { kind: { type: 'string' }, default: 'nova-3', doc: 'Deepgram model' },
  CARTESIA_API_KEY: { kind: { type: 'string' }, secret: true, doc: 'Cartesia key' },
  CARTESIA_URL: { kind: { type: 'url', protocols: ['https:', 'http:'] }, default: 'https://api.cartesia.ai', doc: 'Cartesia API base (websocket derived from it)' },
  CARTESIA_MODEL: { kind: { type: 'string' }, default: 'sonic-3', doc: 'Cartesia model (not sonic-2: Russian was removed from it)' },
  CARTESIA_VOICE_EN: { kind: { type: 'string' }, default: 'f786b574-daa5-4673-aa0c-cbe3e8534c02', doc: 'Default English voice id' },
  CARTESIA_VOICE_RU: { kind: { type: 'string' }, default: '642014de-c0e3-4133-adc0-36b5309c23e6', doc: 'Default Russian voice id' },
  OPENAI_API_KEY: { kind: { type: 'string' }, secret: true, doc: 'OpenAI key (LLM, embeddings, analysis)' },
  OPENAI_BASE_URL: { kind: { type: 'url', protocols: ['https:', 'http:'] }, default: 'https://api.openai.com/v1', doc: 'OpenAI-compatible base URL (vLLM, llama.cpp…)' },
  OPENAI_MODEL: { kind: { type: 'string' }, default: 'gpt-4o-mini', doc: 'Chat model' },
  OPENAI_EMBEDDING_MODEL: { kind: { type: 'string' }, default: 'text-embedding-3-small', doc: 'Embedding model (1536 dimensions)' },
  ANTHROPIC_API_KEY: { kind: { type: 'string' }, secret: true, doc: 'Anthropic key' },
  ANTHROPIC_BASE_URL: { kind: { type: 'url', protocols: ['https:', 'http:'] }, default: 'https://api.anthropic.com', doc: 'Anthropic API base' },
  ANTHROPIC_MODEL: { kind: { type: 'string' }, default: 'claude-haiku-4-5', doc: 'Anthropic model' },
  LOCAL_TTS_ENGINE: { kind: { type: 'enum', values: ['flite', 'espeak-ng'] }, default: 'flite', doc: 'Local English TTS engine (Russian always uses espeak-ng)' },
  QDRANT_URL: { kind: { type: 'url', protocols: ['http:', 'https:'] }, doc: 'Qdrant server; unset = vectors stored in Postgres' },
  QDRANT_API_KEY: { kind: { type: 'string' }, secret: true, doc: 'Qdrant API key' },
  QDRANT_COLLECTION: { kind: { type: 'string' }, default: 'parley_chunks', doc: 'Qdrant collection (one for all tenants)' },
  UPLOAD_MAX_BYTES: { kind: { type: 'int', min: 1024, max: 1_073_741_824 }, default: '20971520', doc: 'Largest knowledge upload' },
  KNOWLEDGE_MAX_DOCUMENTS_PER_COMPANY: { kind: { type: 'int', min: 1, max: 1_000_000 }, default: '2000', doc: 'Knowledge documents a company may have, all its bots and statuses together (409 beyond)' },
  KNOWLEDGE_MAX_BYTES_PER_COMPANY: { kind: { type: 'int', min: 1_048_576, max: 1_099_511_627_776 }, default: '1073741824', doc: "Uploaded bytes a company's knowledge documents may keep stored, all its bots together (409 beyond)" },
  KNOWLEDGE_MAX_CHUNKS_PER_BOT: { kind: { type: 'int', min: 1, max: 10_000_000 }, default: '50000', doc: "Chunks of a bot's ready documents: an upload to a bot at the limit is 409, a document that would pass it ends in error. The embedded vector store scores a bot in process: keep it near the default, or use Qdrant" },
  CHUNK_SIZE: { kind: { type: 'int', min: 100, max: 8000 }, default: '800', doc: 'Target chunk size, characters' },
  CHUNK_OVERLAP: { kind: { type: 'int', min: 0, max: 2000 }, default: '120', doc: 'Overlap between chunks, characters' },
  UPLOAD_CHECKS_MAX_CONCURRENT: {
    kind: { type: 'int', min: 0, max: 64 }, default: '0',
    doc: 'Contact and do-not-call uploads checked at once per process, each on a worker thread of its own; 0 = one per CPU core. A few more wait their turn for up to 10 s, companies taking turns; beyond that 503 with Retry-After',
  },
  INGEST_CONCURRENCY: { kind: { type: 'int', min: 1, max: 32 }, default: '2', doc: 'Documents ingested at once per instance' },
  INGEST_MAX_EXPANDED_BYTES: { kind: { type: 'int', min: 1_048_576, max: 1_073_741_824 }, default: '67108864', doc: 'Largest decompressed size of an uploaded archive (DOCX), all parts together; more fails the document (zip bombs)' },
  INGEST_MAX_XML_BYTES: { kind: { type: 'int', min: 65_536, max: 268_435_456 }, default: '8388608', doc: "Largest decompressed size of a DOCX's XML parts (the DOCX parser needs ~100x this in memory)" },
  INGEST_MAX_PAGES: { kind: { type: 'int', min: 1, max: 100_000 }, default: '2000', doc: 'Most pages a PDF may have' },
  INGEST_MAX_CHARS: { kind: { type: 'int', min: 1000, max: 500_000_000 }, default: '25000000', doc: 'Most characters of text a document may hold (decoded or extracted)' },
  INGEST_MAX_CHUNKS: { kind: { type: 'int', min: 1, max: 1_000_000 }, default: '50000', doc: 'Most chunks one document may cut into' },
  INGEST_WORKER_MEMORY_MB: { kind: { type: 'int', min: 32, max: 16_384 }, default: '1024', doc: 'Memory one document may use in its ingestion worker process (parse, chunk, local embedding): V8 heap limit, and growth of the whole process past idle; a document that needs more fails' },
  INGEST_TIMEOUT_MS: { kind: { type: 'int', min: 1000, max: 240_000 }, default: '120000', doc: 'Longest one document may spend in an ingestion worker process; then it fails' },
  RETRIEVAL_TOP_K: { kind: { type: 'int', min: 1, max: 50 }, default: '4', doc: 'Chunks handed to the agent per question' },
  BOOKING_HOLD_SEC: { kind: { type: 'int', min: 10, max: 3600 }, default: '300', doc: 'How long a slot hold lasts' },
  WEBHOOK_ALLOW_HTTP: { kind: { type: 'bool' }, default: 'false', doc: 'Allow http:// webhook URLs (local work only)' },
  WEBHOOK_ALLOW_PRIVATE: { kind: { type: 'bool' }, default: 'false', doc: 'Allow webhook hosts on loopback/private/link-local addresses (local work only)' },
  WEBHOOK_TIMEOUT_MS: { kind: { type: 'int', min: 100, max: 120_000 }, default: '10000', doc: 'Per-attempt webhook timeout' },
  WEBHOOK_MAX_AGE_HOURS: { kind: { type: 'int', min: 1, max: 168 }, default: '24', doc: 'Retry a failing delivery this long, then mark it dead' },
  WEB_CALL_TOKEN_TTL_SEC: { kind: { type: 'int', min: 10, max: 3600 }, default: '120', doc: 'Lifetime of a web-call token' },
  TTS_PHRASE_CACHE_MB: { kind: { type: 'int', min: 0, max: 4096 }, default: '32', doc: 'Memory for the audio of repeated short phrases (greetings, re-prompts…); 0 turns the cache off' },
  WORKERS_ENABLED: { kind: { type: 'bool' }, default: 'true', doc: 'Run background workers (ingestion, analysis, webhooks) in this process' },
  PROCESSES: { kind: { type: 'string' }, default: '1', doc: 'Server processes sharing PORT (node:cluster): a number, or auto = one per CPU core; more than 1 needs DATABASE_URL (embedded PGlite is single-process)' },
  GC_THREADS: { kind: { type: 'enum', values: ['auto', 'main', 'parallel'] }, default: 'auto', doc: 'Where the garbage collector of the processes PROCESSES > 1 starts does its work: main = its pauses and marking on each process\'s own call-loop thread, only sweeping in the background (src/gc-heap.ts), parallel = also on V8\'s helper threads; auto = main when the processes fill the cores (PROCESSES=auto, or at least one per core), else parallel. One process (PROCESSES=1) takes the flags on its node command line instead. A process that marks on its own thread also lets its heap grow 3× between full collections (--heap-growing-percent=200, src/gc-heap.ts)' },
  RECORDINGS_DIR: { kind: { type: 'string' }, doc: 'Where recorded web calls are kept (filesystem store); unset = DATA_DIR/recordings' },
  RECORDINGS_S3_ENDPOINT: { kind: { type: 'url', protocols: ['https:', 'http:'] }, doc: 'S3-compatible endpoint for recordings (path-style); unset = AWS S3 in RECORDINGS_S3_REGION' },
  RECORDINGS_S3_BUCKET: { kind: { type: 'string' }, doc: 'Bucket for recordings; set with the two keys below to store recordings in S3 instead of files' },
  RECORDINGS_S3_REGION: { kind: { type: 'string' }, default: 'us-east-1', doc: 'Region used to sign S3 requests' },
  RECORDINGS_S3_ACCESS_KEY_ID: { kind: { type: 'string' }, secret: true, doc: 'S3 access key id for recordings' },
  RECORDINGS_S3_SECRET_ACCESS_KEY: { kind: { type: 'string' }, secret: true, doc: 'S3 secret access key for recordings' },
  RECORDINGS_S3_PREFIX: { kind: { type: 'string' }, doc: 'Key prefix for recordings in the bucket' },
  // Unit prices for GET /v1/usage (src/usage/prices.ts). The defaults are EXAMPLES of list prices, not quotes:
  // set your own. Local providers always cost 0.
  PRICE_CURRENCY: { kind: { type: 'string' }, default: 'USD', doc: 'Currency label of the PRICE_* settings (ISO 4217 code)' },
  PRICE_TWILIO_INBOUND_PER_MIN: { kind: { type: 'decimal', max: 1000 }, default: '0.0085', doc: 'Twilio inbound voice, per minute (each call rounded up to whole minutes); example, not a quote' },
  PRICE_TWILIO_OUTBOUND_PER_MIN: { kind: { type: 'decimal', max: 1000 }, default: '0.014', doc: 'Twilio outbound voice, per minute (rounded up per call); example, not a quote' },
  PRICE_DEEPGRAM_PER_MIN: { kind: { type: 'decimal', max: 1000 }, default: '0.0077', doc: 'Deepgram streaming STT, per minute of audio sent; example, not a quote' },
  PRICE_CARTESIA_PER_MCHAR: { kind: { type: 'decimal', max: 100_000 }, default: '40', doc: 'Cartesia TTS, per million characters sent; example, not a quote' },
  PRICE_OPENAI_INPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '0.15', doc: 'OpenAI LLM, per million uncached input tokens (gpt-4o-mini list price as an example)' },
  PRICE_OPENAI_CACHED_INPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '0.075', doc: 'OpenAI LLM, per million cached input tokens; example, not a quote' },
  PRICE_OPENAI_OUTPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '0.6', doc: 'OpenAI LLM, per million output tokens; example, not a quote' },
  PRICE_ANTHROPIC_INPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '1', doc: 'Anthropic LLM, per million uncached input tokens (cache writes counted here too); example, not a quote' },
  PRICE_ANTHROPIC_CACHED_INPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '0.1', doc: 'Anthropic LLM, per million cache-read input tokens; example, not a quote' },
  PRICE_ANTHROPIC_OUTPUT_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '5', doc: 'Anthropic LLM, per million output tokens; example, not a quote' },
  PRICE_OPENAI_EMBEDDING_PER_MTOK: { kind: { type: 'decimal', max: 100_000 }, default: '0.02', doc: 'OpenAI embeddings, per million input tokens (text-embedding-3-small list price as an example); example, not a quote' },
} as const satisfies Record<string, VariableSpec>;

type Name = keyof typeof VARIABLES;
type ValueOf<K extends Kind> = K extends { type: 'int' } | { type: 'decimal' } ? number : K extends { type: 'bool' } ? boolean : string;
type Spec<N extends Name> = (typeof VARIABLES)[N];
type Parsed<N extends Name> = Spec<N> extends { default: string } ? ValueOf<Spec<N>['kind']> : ValueOf<Spec<N>['kind']> | undefined;

export type Config = { readonly [N in Name]: Parsed<N> };

function parseOne(name: string, spec: VariableSpec, raw: string | undefined): string | number | boolean | undefined {
  const value = raw === undefined || raw.trim() === '' ? spec.default : raw.trim();
  if (value === undefined) return undefined;
  const kind = spec.kind;
  switch (kind.type) {
    case 'string':
      return value;
    case 'url': {
      // "localhost:3000" parses, as a URL of protocol "localhost:": say what to write, and echo what was written.
      const got = spec.secret ? '' : ` (got "${value.slice(0, 200)}")`;
      const shape = `must start with ${kind.protocols.map((p) => `${p}//`).join(' or ')}${kind.example ? `, e.g. ${kind.example}` : ''}`;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new ConfigError(name, `is not a valid URL: it ${shape}${got}`);
      }
      if (!kind.protocols.includes(url.protocol)) throw new ConfigError(name, `${shape}${got}`);
      return value.replace(/\/+$/, '');
    }
    case 'int': {
      if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer (got "${spec.secret ? '***' : value}")`);
      const n = Number(value);
      if (n < kind.min || n > kind.max) throw new ConfigError(name, `must be between ${kind.min} and ${kind.max}`);
      return n;
    }
    case 'decimal': {
      if (!/^\d{1,9}(\.\d{1,9})?$/.test(value)) throw new ConfigError(name, `must be a non-negative decimal number such as 0.0085 (got "${spec.secret ? '***' : value}")`);
      const n = Number(value);
      if (n > kind.max) throw new ConfigError(name, `must be at most ${kind.max}`);
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      throw new ConfigError(name, 'must be true or false');
    case 'enum':
      if (!kind.values.includes(value)) throw new ConfigError(name, `must be one of ${kind.values.join(', ')}`);
      return value;
  }
}

/**
 * TRUST_PROXY as Fastify's `trustProxy`: true/false, a hop count, or a list of addresses, CIDRs and the names
 * loopback, linklocal, uniquelocal. Only these peers' X-Forwarded-For is believed, so a client cannot pick
 * the IP that rate limits and the auth-failure throttle count by.
 */
export function trustProxyOption(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  if (/^\d{1,2}$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  for (const item of value.split(',').map((x) => x.trim())) {
    const [addr, bits, extra] = item.split('/');
    const ok = ['loopback', 'linklocal', 'uniquelocal'].includes(item)
      || (isIP(addr ?? '') !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(addr!) === 4 ? 32 : 128))));
    if (!ok) throw new ConfigError('TRUST_PROXY', `must be true, false, a hop count or a list of addresses/CIDRs (got "${item.slice(0, 60)}")`);
  }
  return value;
}

/** The address ranges TRUST_PROXY's names stand for (as @fastify/proxy-addr defines them). */
const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']],
  linklocal: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']],
  uniquelocal: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']],
};

/**
 * Whether TRUST_PROXY trusts the peer at `address` (a connection's remote address) to forward clients: its
 * connections carry many clients, so what is counted per client IP cannot be counted by its address.
 */
export function trustsPeer(value: string): (address: string) => boolean {
  const option = trustProxyOption(value);
  if (typeof option === 'boolean') return () => option;
  if (typeof option === 'function') return (address) => option(address, 0);
  const trusted = new BlockList();
  for (const item of option.split(',').map((x) => x.trim())) {
    for (const [net, bits, type] of NAMED_RANGES[item] ?? []) trusted.addSubnet(net, bits, type);
    if (NAMED_RANGES[item]) continue;
    const [addr = '', bits] = item.split('/');
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    trusted.addSubnet(addr, bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits), type);
  }
  // BlockList matches an IPv4-mapped address (::ffff:127.0.0.1, a dual-stack socket's) against IPv4 ranges.
  return (address) => trusted.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
}

/** A shorter ADMIN_TOKEN is refused at start: it guards every company. Generated tokens have 43 characters. */
export const MIN_ADMIN_TOKEN_CHARS = 32;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(VARIABLES) as [string, VariableSpec][]) {
    out[name] = parseOne(name, spec, env[name]);
  }
  const cfg = out as Config;
  if (cfg.ADMIN_TOKEN !== undefined && cfg.ADMIN_TOKEN.length < MIN_ADMIN_TOKEN_CHARS) {
    throw new ConfigError('ADMIN_TOKEN', `must be at least ${MIN_ADMIN_TOKEN_CHARS} characters (e.g. openssl rand -base64 32), or unset to have one generated into DATA_DIR`);
  }
  if (cfg.METRICS_TOKEN !== undefined && cfg.METRICS_TOKEN.length < MIN_ADMIN_TOKEN_CHARS) {
    throw new ConfigError('METRICS_TOKEN', `must be at least ${MIN_ADMIN_TOKEN_CHARS} characters (e.g. openssl rand -base64 32), or unset for an open /metrics`);
  }
  // It signs every media-stream and web-call token: a short one could be guessed, and calls opened with it.
  if (cfg.CALL_TOKEN_SECRET !== undefined && cfg.CALL_TOKEN_SECRET.length < MIN_ADMIN_TOKEN_CHARS) {
    throw new ConfigError('CALL_TOKEN_SECRET', `must be at least ${MIN_ADMIN_TOKEN_CHARS} characters (e.g. openssl rand -base64 32), or unset to have one generated into DATA_DIR`);
  }
  // A prefix without "+" matches no E.164 number: every dial would be refused with nothing said at start.
  for (const prefix of (cfg.OUTBOUND_ALLOWED_PREFIXES ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    if (!/^\+\d{1,15}$/.test(prefix)) throw new ConfigError('OUTBOUND_ALLOWED_PREFIXES', `must be E.164 prefixes such as +1,+44 (got "${prefix.slice(0, 20)}")`);
  }
  // A server started on another port without PUBLIC_URL is reached there: its page links, its Twilio signature checks
  // and `npm run call` (which reads the same PORT) agree on http://localhost:PORT.
  if (!env.PUBLIC_URL && env.PORT && cfg.PORT !== 0) out.PUBLIC_URL = `http://localhost:${cfg.PORT}`;
  trustProxyOption(cfg.TRUST_PROXY);
  if (!/^(auto|[1-9]\d{0,2})$/.test(cfg.PROCESSES)) throw new ConfigError('PROCESSES', `must be auto or a number from 1 to 999 (got "${cfg.PROCESSES.slice(0, 20)}")`);
  if (cfg.PROCESSES === '1' && cfg.GC_THREADS !== 'auto') {
    throw new ConfigError('GC_THREADS', `is ${cfg.GC_THREADS} but PROCESSES is 1: the setting is for the processes PROCESSES > 1 starts; one process takes it on its command line (for main: node with the flags of CALL_LOOP_GC_FLAGS, --no-concurrent-marking among them; docs/operations.md lists them)`);
  }
  if (cfg.PROCESSES !== '1' && !cfg.DATABASE_URL) {
    throw new ConfigError('PROCESSES', `is ${cfg.PROCESSES} but DATABASE_URL is not set: embedded PGlite runs in one process only; set DATABASE_URL to a PostgreSQL server, or PROCESSES=1`);
  }
  if (cfg.HTTP_REQUEST_TIMEOUT_MS < cfg.HTTP_HEADERS_TIMEOUT_MS) throw new ConfigError('HTTP_REQUEST_TIMEOUT_MS', 'must be at least HTTP_HEADERS_TIMEOUT_MS');
  if (!/^[A-Z]{3}$/.test(cfg.PRICE_CURRENCY)) throw new ConfigError('PRICE_CURRENCY', 'must be a three-letter currency code such as USD');
  if (cfg.CHUNK_OVERLAP >= cfg.CHUNK_SIZE) throw new ConfigError('CHUNK_OVERLAP', 'must be smaller than CHUNK_SIZE');
  if (cfg.DEFAULT_STT === 'deepgram' && !cfg.DEEPGRAM_API_KEY) throw new ConfigError('DEFAULT_STT', 'is deepgram but DEEPGRAM_API_KEY is not set');
  if (cfg.DEFAULT_TTS === 'cartesia' && !cfg.CARTESIA_API_KEY) throw new ConfigError('DEFAULT_TTS', 'is cartesia but CARTESIA_API_KEY is not set');
  if (cfg.DEFAULT_LLM === 'openai' && !cfg.OPENAI_API_KEY) throw new ConfigError('DEFAULT_LLM', 'is openai but OPENAI_API_KEY is not set');
  if (cfg.DEFAULT_LLM === 'anthropic' && !cfg.ANTHROPIC_API_KEY) throw new ConfigError('DEFAULT_LLM', 'is anthropic but ANTHROPIC_API_KEY is not set');
  checkSettingGroups(cfg);
  return Object.freeze(cfg);
}

/**
 * Settings that only work together. Each of these used to fall back without a word: recordings on one instance's
 * disk when an S3 key was misspelt, outbound calls and transfers off when the Twilio token was missing, a Qdrant
 * key with no Qdrant. A half-configured feature is refused at start, naming what is missing.
 */
const SETTING_GROUPS: Array<{ when: keyof Config; needs: Array<keyof Config>; why: string }> = [
  { when: 'RECORDINGS_S3_BUCKET', needs: ['RECORDINGS_S3_ACCESS_KEY_ID', 'RECORDINGS_S3_SECRET_ACCESS_KEY'], why: 'recordings go to S3 only with the bucket and both keys' },
  { when: 'RECORDINGS_S3_ACCESS_KEY_ID', needs: ['RECORDINGS_S3_BUCKET', 'RECORDINGS_S3_SECRET_ACCESS_KEY'], why: 'recordings go to S3 only with the bucket and both keys' },
  { when: 'RECORDINGS_S3_SECRET_ACCESS_KEY', needs: ['RECORDINGS_S3_BUCKET', 'RECORDINGS_S3_ACCESS_KEY_ID'], why: 'recordings go to S3 only with the bucket and both keys' },
  { when: 'RECORDINGS_S3_ENDPOINT', needs: ['RECORDINGS_S3_BUCKET'], why: 'the endpoint is for the S3 recordings store' },
  { when: 'RECORDINGS_S3_PREFIX', needs: ['RECORDINGS_S3_BUCKET'], why: 'the prefix is for the S3 recordings store' },
  { when: 'TWILIO_ACCOUNT_SID', needs: ['TWILIO_AUTH_TOKEN'], why: "Twilio's REST API (outbound calls, transfers, hang-ups, recordings) needs the account's auth token" },
  { when: 'QDRANT_API_KEY', needs: ['QDRANT_URL'], why: 'the key is for the Qdrant server QDRANT_URL names' },
];

function checkSettingGroups(cfg: Config): void {
  for (const group of SETTING_GROUPS) {
    if (cfg[group.when] === undefined) continue;
    const missing = group.needs.filter((name) => cfg[name] === undefined);
    if (missing.length > 0) throw new ConfigError(group.when, `is set but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not: ${group.why}`);
  }
  // Every link the server hands out (Twilio's webhooks, the call page) starts with it: a user, query or fragment in it
  // would be repeated into each, and Twilio's signatures would never match.
  const publicUrl = new URL(cfg.PUBLIC_URL);
  if (publicUrl.username || publicUrl.password || publicUrl.search || publicUrl.hash) {
    throw new ConfigError('PUBLIC_URL', 'must be an origin (and path) without a user, password, query or fragment, e.g. https://voice.example.com');
  }
}

/** Names of variables whose values must never be logged. */
export const SECRET_VARIABLES: string[] = Object.entries(VARIABLES as Record<string, VariableSpec>)
  .filter(([, s]) => s.secret)
  .map(([n]) => n);

/** A config for tests: defaults plus overrides, no process.env. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', ...overrides });
}
