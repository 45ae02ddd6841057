/**
 * One ES module for node out of TypeScript sources of the checkout, for tests
 * that run code in another process (a runner in the session, a client that is
 * killed, a worker thread): those cannot load TypeScript themselves.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { inject } from 'vitest';
import { repoRoot } from './requires.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The directory test/helpers/global-setup.ts bundled the runners into. */
    runnerBundles: string;
  }
}

/** The runners tests start in another process, by name: each is bundled to NAME.mjs. */
export const runners = {
  'fs-runner': 'test/fixtures/fs-runner.ts',
  'extract-runner': 'test/fixtures/extract-runner.ts',
  'net-runner': 'test/fixtures/net-runner.ts',
  'limits-runner': 'test/guest/limits-runner.ts',
  'cli-runner': 'test/guest/cli-runner.ts',
  'fuzz-worker': 'test/fuzz/worker.ts',
} as const;
export type Runner = keyof typeof runners;

const common: BuildOptions = {
  absWorkingDir: repoRoot,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The bundle lives elsewhere: src/package.ts finds the package root (and with it the addon) from its own URL.
  define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(repoRoot, 'src', 'package.ts')).href) },
  logLevel: 'warning',
};

/** Bundles every runner into dir (NAME.mjs), in one esbuild call: test/helpers/global-setup.ts does, once per run. */
export async function bundleRunners(dir: string): Promise<void> {
  await build({
    ...common,
    entryPoints: Object.entries(runners).map(([out, entry]) => ({ in: entry, out })),
    outdir: dir,
    outExtension: { '.js': '.mjs' },
  });
}

/** The bundle of a runner, made once for the run by the global setup. */
export function runnerBundle(name: Runner): string {
  const path = join(inject('runnerBundles'), `${name}.mjs`);
  if (!existsSync(path)) throw new Error(`${path} is missing: test/helpers/global-setup.ts bundles the runners`);
  return path;
}

export type BundleSource =
  /** A file of the checkout, relative to its root. */
  | { entry: string }
  /** TypeScript given inline, its imports resolved from resolveDir. */
  | { code: string; resolveDir: string };

/** Writes the bundle of source to outfile and returns outfile. */
export async function bundleForNode(source: BundleSource, outfile: string): Promise<string> {
  await build({
    ...common,
    ...('entry' in source
      ? { entryPoints: [source.entry] }
      : { stdin: { contents: source.code, resolveDir: source.resolveDir, sourcefile: 'inline.ts', loader: 'ts' } }),
    outfile,
  });
  return outfile;
}
