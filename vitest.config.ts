import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

// A file per core, two at least: vitest's default (cores - 1) ran one file at a time on CI's 2 cores. Not more
// than cores: several tests measure time (CPU time, log rotation, a 2 s hash rule) and a third file at once made
// them miss on a loaded machine. HUTCH_TEST_WORKERS overrides it (1: one file at a time).
const workers = Number(process.env.HUTCH_TEST_WORKERS ?? Math.max(2, availableParallelism()));

// Files that look at what every hutch command of the user shares: cgroups-host.test.ts checks that a refused run
// leaves no container cgroup in the delegated subtree, where the containers of the files beside it come and go.
const alone = ['test/integration/cgroups-host.test.ts'];

export default defineConfig({
  // Outside the checkout (CI copies it afresh each run), beside the test fixtures: vitest keeps each file's last
  // duration there and starts the longest first, so that no long file (the guest, the differential) starts last.
  cacheDir: join(process.env.HOME ?? homedir(), '.cache', 'hutch-test', 'vite'),
  test: {
    testTimeout: 60_000,
    // The hint: line is printed for a terminal only (src/cli/report.ts); tests read it from a pipe.
    env: { HUTCH_HINTS: '1' },
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
          exclude: [...configDefaults.exclude, ...alone],
          sequence: { groupOrder: 1 },
        },
      },
      // Last, with no other file of the run beside it.
      { extends: true, test: { name: 'alone', include: alone, sequence: { groupOrder: 2 } } },
    ],
  },
});
