import { defineConfig } from 'vitest/config';

// unit: no servers. integration + e2e: real Temporal dev server and two real PostgreSQL clusters,
// started once by test/setup/global.ts through scripts/dev.sh.
export default defineConfig({
  test: {
    // Two cores and shared servers: one test file at a time.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
