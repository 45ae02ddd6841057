/**
 * Once per run, before the integration tests' workers start: the runners
 * that tests execute in another process (in the session, in the guest, in a
 * worker thread), bundled by one esbuild call into a directory every test
 * file reads them from (runnerBundle in test/helpers/bundle.ts), instead of
 * each file bundling its own copy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleRunners } from './bundle.js';

export async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-runners-'));
  await bundleRunners(dir);
  project.provide('runnerBundles', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
