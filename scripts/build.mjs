// Bundles the CLI into dist/ with esbuild: dist/cli.cjs, one CommonJS file with everything, and
// dist/hutch.cjs (from scripts/loader.cjs), which bin/hutch starts node on: it compiles the bundle
// through V8's code cache. Node starts on every command; loading ~70 ES module chunks cost more
// than their code (resolution, linking, compiling from source each time), and a CommonJS bundle
// can go through vm.Script with cachedData where an ES module cannot on node 20
// (bench/startup, bench/run). Types are checked separately (npm run typecheck).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Build beside dist/ and swap it in, so a hutch that is running keeps a whole bundle.
const staging = join(root, `dist.${process.pid}`);
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile: join(staging, 'cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // ES module semantics (strict mode) in the CommonJS wrapper; src/package.ts and src/native.ts find
  // the package and the addon from import.meta.url, which CommonJS spells through __filename.
  define: { 'import.meta.url': '__hutchUrl' },
  banner: { js: "'use strict';\nconst __hutchUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// ASCII only, so that the loader can read the bundle as latin1 (a copy) where decoding ~1 MB of
// UTF-8 took ~20 ms of every command. esbuild's charset: 'ascii' leaves comments and regular
// expressions alone; the few characters left there (→, …, µ) become \u escapes, which mean the same
// in both (and in strings and template literals; only String.raw would see the difference).
const text = readFileSync(join(staging, 'cli.cjs'), 'utf8').replace(
  /[^\0-\x7f]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
);
writeFileSync(join(staging, 'cli.cjs'), text);
const bundle = Buffer.from(text, 'latin1');
// The loader names its code caches after the bundle's content (scripts/loader.cjs says why).
const bundleId = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
writeFileSync(
  join(staging, 'hutch.cjs'),
  readFileSync(join(root, 'scripts', 'loader.cjs'), 'utf8').replace('@BUNDLE_ID@', bundleId),
);
rmSync(join(root, 'dist.old'), { recursive: true, force: true });
try {
  renameSync(join(root, 'dist'), join(root, 'dist.old'));
} catch {
  // no dist/ yet
}
renameSync(staging, join(root, 'dist'));
rmSync(join(root, 'dist.old'), { recursive: true, force: true });
