import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // One temporary directory per run, removed at its end (tests/global-temp-dir.ts).
    globalSetup: ['tests/global-temp-dir.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances and local speech processes are heavy; two cores on CI.
    pool: 'forks',
    maxWorkers: 2,
  },
});
