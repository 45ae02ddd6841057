import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Most integration tests wait on processes (hutch, the registry, buildah), not on this one's CPU: more files at
// once than cores. HUTCH_TEST_WORKERS overrides it (1: one file at a time).
const workers = Number(process.env.HUTCH_TEST_WORKERS ?? Math.max(3, availableParallelism()));

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: workers,
    reporters: ['verbose'],
    // Built once per run for every test file: the runner bundles (test/helpers/global-setup.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      // Unit and native tests first (seconds): a broken build shows before the integration tests start.
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/native/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/corpus/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
