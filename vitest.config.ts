import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances and local speech processes are heavy; two cores on CI.
    pool: 'forks',
    maxWorkers: 2,
  },
});
