/**
 * RecordingStore on an S3-compatible bucket (AWS S3, MinIO, R2, …): path-style URLs
 * `<endpoint>/<bucket>/<prefix><key>`, requests signed with AWS Signature V4 by `aws4` (a small, dependency-free
 * signer). Uploads stream the finished file with its length and an unsigned payload hash, so a recording is
 * never held in memory; downloads stream the response body through.
 */
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import aws4 from 'aws4';
import { assertKey, type RecordingStore, type StoredObject } from './store.js';

export interface S3Settings {
  /** e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000 */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Key prefix inside the bucket, e.g. "recordings/". */
  prefix?: string;
  timeoutMs?: number;
}

export class S3RecordingStore implements RecordingStore {
  readonly name = 's3' as const;
  private readonly base: URL;

  constructor(private readonly s: S3Settings) {
    this.base = new URL(s.endpoint);
  }

  private async request(method: 'PUT' | 'GET' | 'DELETE', key: string, extra: { headers?: Record<string, string>; body?: Readable } = {}): Promise<Response> {
    assertKey(key);
    const path = `${this.base.pathname.replace(/\/+$/, '')}/${encodeURIComponent(this.s.bucket)}/${(this.s.prefix ?? '') + key}`
      .split('/').map((seg) => encodeURIComponent(decodeURIComponent(seg))).join('/');
    const headers: Record<string, string> = { ...extra.headers };
    if (method === 'PUT') headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    const signed = aws4.sign(
      { host: this.base.host, path, method, service: 's3', region: this.s.region, headers },
      { accessKeyId: this.s.accessKeyId, secretAccessKey: this.s.secretAccessKey },
    );
    const init: RequestInit & { duplex?: 'half' } = {
      method,
      headers: signed.headers as Record<string, string>,
      signal: AbortSignal.timeout(this.s.timeoutMs ?? 60_000),
    };
    if (extra.body) {
      init.body = Readable.toWeb(extra.body) as unknown as RequestInit['body'];
      init.duplex = 'half';
    }
    return fetch(`${this.base.protocol}//${this.base.host}${path}`, init);
  }

  async put(key: string, path: string, contentType: string): Promise<void> {
    const { size } = await stat(path);
    const res = await this.request('PUT', key, {
      headers: { 'content-type': contentType, 'content-length': String(size) },
      body: createReadStream(path),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`S3 answered HTTP ${res.status} storing a recording`);
    await unlink(path);
  }

  async open(key: string): Promise<StoredObject | null> {
    const res = await this.request('GET', key);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`S3 answered HTTP ${res.status} reading a recording`);
    }
    const length = Number(res.headers.get('content-length'));
    return { body: Readable.fromWeb(res.body as WebReadableStream), size: Number.isFinite(length) && length > 0 ? length : null };
  }

  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', key);
    await res.body?.cancel();
    if (!res.ok && res.status !== 404) throw new Error(`S3 answered HTTP ${res.status} deleting a recording`);
  }
}
