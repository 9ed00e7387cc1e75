import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { recordingServices } from '../../src/recordings/settings.js';

const COMPANY = '00000000-0000-4000-8000-00000000000c';
const CALL = '00000000-0000-4000-8000-0000000000ca';

/** A recording as the call path stores one: spooled, then put into the store under `<company>/<call>.wav`. */
async function storeOne(services: ReturnType<typeof recordingServices>): Promise<void> {
  await mkdir(services.spoolDir, { recursive: true });
  const spooled = join(services.spoolDir, `${CALL}.wav`);
  await writeFile(spooled, 'RIFF');
  await services.store.put(`${COMPANY}/${CALL}.wav`, spooled, 'audio/wav');
}

describe('recording services: where recordings live and what stopping leaves', () => {
  it('a throwaway database (memory://) keeps them in a temporary directory that close() removes', async () => {
    const services = recordingServices(testConfig());
    await storeOne(services);
    const dir = join(tmpdir(), `parley-recordings-${process.pid}`);
    expect(existsSync(join(dir, COMPANY, `${CALL}.wav`))).toBe(true);
    await services.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('a data directory, or a RECORDINGS_DIR of the operator\'s, is kept', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-data-'));
    const own = await mkdtemp(join(tmpdir(), 'parley-own-recordings-'));
    try {
      const onDisk = recordingServices(testConfig({ DATA_DIR: dataDir }));
      await storeOne(onDisk);
      await onDisk.close();
      expect(existsSync(join(dataDir, 'recordings', COMPANY, `${CALL}.wav`))).toBe(true);

      const named = recordingServices(testConfig({ RECORDINGS_DIR: own }));
      await storeOne(named);
      await named.close();
      expect(existsSync(join(own, COMPANY, `${CALL}.wav`))).toBe(true);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      await rm(own, { recursive: true, force: true });
    }
  });
});
