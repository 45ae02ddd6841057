/**
 * One ES module for node out of TypeScript sources of the checkout, for tests
 * that run code in another process (a runner in the session, a client that is
 * killed, a worker thread): those cannot load TypeScript themselves.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { repoRoot } from './requires.js';

export type BundleSource =
  /** A file of the checkout, relative to its root. */
  | { entry: string }
  /** TypeScript given inline, its imports resolved from resolveDir. */
  | { code: string; resolveDir: string };

/** Writes the bundle of source to outfile and returns outfile. */
export async function bundleForNode(source: BundleSource, outfile: string): Promise<string> {
  await build({
    absWorkingDir: repoRoot,
    ...('entry' in source
      ? { entryPoints: [source.entry] }
      : { stdin: { contents: source.code, resolveDir: source.resolveDir, sourcefile: 'inline.ts', loader: 'ts' } }),
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The bundle lives elsewhere: src/package.ts finds the package root (and with it the addon) from its own URL.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(repoRoot, 'src', 'package.ts')).href) },
    logLevel: 'warning',
  });
  return outfile;
}
