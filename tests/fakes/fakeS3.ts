/**
 * A local stand-in for an S3-compatible object store (path-style: /<bucket>/<key>): PUT, GET and DELETE of
 * objects, each request's AWS Signature V4 checked against the configured credentials (re-signed from the request's
 * own signed headers: a wrong secret, a tampered path or a missing header is a 403, as S3 answers).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import aws4 from 'aws4';

export interface FakeS3Request {
  method: string;
  path: string;
  /** Bytes received for a PUT. */
  bytes: number;
  contentSha256: string | undefined;
}

export class FakeS3 {
  readonly objects = new Map<string, Buffer>();
  readonly requests: FakeS3Request[] = [];
  /** Statuses to answer the next requests with (e.g. [503]). */
  failures: number[] = [];
  private readonly server: Server;
  private port = 0;

  private constructor(readonly bucket: string, readonly region: string, readonly accessKeyId: string, readonly secretAccessKey: string) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(o: { bucket?: string; region?: string; accessKeyId?: string; secretAccessKey?: string } = {}): Promise<FakeS3> {
    const fake = new FakeS3(o.bucket ?? 'recordings', o.region ?? 'eu-central-1', o.accessKeyId ?? 'AKIDFAKE', o.secretAccessKey ?? 'fake-secret-key');
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Whether the request carries a valid V4 signature of these credentials over its method, path and signed headers. */
  private signed(req: IncomingMessage): boolean {
    const auth = req.headers.authorization ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(auth);
    if (!m || m[1] !== this.accessKeyId || m[2] !== this.region) return false;
    const headers: Record<string, string> = {};
    for (const name of m[3]!.split(';')) {
      const v = req.headers[name];
      if (typeof v !== 'string') return false;
      headers[name] = v;
    }
    const again = aws4.sign(
      { host: headers.host, path: req.url, method: req.method, service: 's3', region: this.region, headers: { ...headers } },
      { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
    );
    return (again.headers as Record<string, string>).Authorization === auth;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    this.requests.push({ method: req.method ?? '', path, bytes: body.byteLength, contentSha256: req.headers['x-amz-content-sha256'] as string | undefined });
    if (!this.signed(req)) return xml(res, 403, 'SignatureDoesNotMatch');
    const failure = this.failures.shift();
    if (failure !== undefined) return xml(res, failure, 'ServiceUnavailable');
    const prefix = `/${this.bucket}/`;
    if (!path.startsWith(prefix)) return xml(res, 404, 'NoSuchBucket');
    const key = decodeURIComponent(path.slice(prefix.length));
    switch (req.method) {
      case 'PUT':
        if (Number(req.headers['content-length']) !== body.byteLength) return xml(res, 400, 'IncompleteBody');
        this.objects.set(key, body);
        res.writeHead(200, { etag: '"fake"' }).end();
        return;
      case 'GET': {
        const object = this.objects.get(key);
        if (!object) return xml(res, 404, 'NoSuchKey');
        res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': object.byteLength });
        for (let i = 0; i < object.byteLength; i += 8192) res.write(object.subarray(i, i + 8192));
        res.end();
        return;
      }
      case 'DELETE':
        this.objects.delete(key);
        res.writeHead(204).end();
        return;
      default:
        return xml(res, 405, 'MethodNotAllowed');
    }
  }
}

function xml(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>`);
}
