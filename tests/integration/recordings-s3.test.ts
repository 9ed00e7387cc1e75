/**
 * The S3-compatible RecordingStore against a fake S3 that checks every request's V4 signature: a finished file is
 * streamed up (and removed locally), read back as a stream, deleted; wrong credentials and outages are errors.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { S3RecordingStore } from '../../src/recordings/s3-store.js';
import { recordingServices } from '../../src/recordings/settings.js';
import { recordingKey } from '../../src/recordings/store.js';
import { FakeS3 } from '../fakes/fakeS3.js';

let s3: FakeS3;
let dir: string;
const KEY = recordingKey('3f1e2d4c-0000-4000-8000-000000000001', '3f1e2d4c-0000-4000-8000-000000000002');

beforeAll(async () => {
  s3 = await FakeS3.start();
  dir = await mkdtemp(join(tmpdir(), 'parley-s3-test-'));
});
afterAll(async () => {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
});

const store = (secret = s3.secretAccessKey) =>
  new S3RecordingStore({ endpoint: s3.url, bucket: s3.bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: secret, prefix: 'calls/' });

describe('S3RecordingStore', () => {
  it('puts a file (streamed, unsigned payload), opens it as a stream, deletes it', async () => {
    const file = join(dir, 'a.wav');
    const bytes = Buffer.alloc(200_000, 7);
    await writeFile(file, bytes);
    await store().put(KEY, file, 'audio/wav');
    expect(s3.objects.get(`calls/${KEY}`)?.equals(bytes)).toBe(true);
    expect(s3.requests.at(-1)).toMatchObject({ method: 'PUT', bytes: 200_000, contentSha256: 'UNSIGNED-PAYLOAD' });
    await expect(stat(file)).rejects.toThrow(); // consumed

    const opened = await store().open(KEY);
    expect(opened!.size).toBe(200_000);
    const chunks: Buffer[] = [];
    for await (const c of opened!.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);

    await store().delete(KEY);
    expect(s3.objects.size).toBe(0);
    expect(await store().open(KEY)).toBeNull();
  });

  it('a wrong secret is refused (403) and keeps the local file; an outage is an error', async () => {
    const file = join(dir, 'b.wav');
    await writeFile(file, 'RIFF');
    await expect(store('wrong-secret').put(KEY, file, 'audio/wav')).rejects.toThrow('HTTP 403');
    expect((await stat(file)).size).toBe(4);
    s3.failures.push(503);
    await expect(store().delete(KEY)).rejects.toThrow('HTTP 503');
    await expect(store().open('../../secrets')).rejects.toThrow('Not a recording key');
  });

  it('is chosen by the RECORDINGS_S3_* settings; without them recordings go to files', () => {
    const base = { DATA_DIR: dir };
    expect(recordingServices(testConfig(base)).store.name).toBe('filesystem');
    const chosen = recordingServices(testConfig({
      ...base, RECORDINGS_S3_ENDPOINT: s3.url, RECORDINGS_S3_BUCKET: s3.bucket, RECORDINGS_S3_REGION: s3.region,
      RECORDINGS_S3_ACCESS_KEY_ID: s3.accessKeyId, RECORDINGS_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    }));
    expect(chosen.store.name).toBe('s3');
    expect(chosen.twilio).toBeNull();
  });
});
