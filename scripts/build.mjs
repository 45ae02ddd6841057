// Bundles the CLI into dist/ with esbuild: one file for the start-up path and
// a chunk per verb, loaded when the verb runs. Node starts on every command,
// and loading ~25 modules one by one cost about 20 ms more than one bundle
// (bench/startup). Types are checked separately (npm run typecheck).
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Build beside dist/ and swap it in, so a hutch that is running keeps a whole bundle.
const staging = join(root, `dist.${process.pid}`);
await build({
  absWorkingDir: root,
  entryPoints: { hutch: 'src/cli/main.ts' },
  outdir: staging,
  // Chunks sit next to the entry: src/package.ts finds the package root one level up.
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // commander is CommonJS: give its require() calls a real require.
  banner: {
    js: "import { createRequire as __hutchRequire } from 'node:module'; const require = __hutchRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
rmSync(join(root, 'dist.old'), { recursive: true, force: true });
try {
  renameSync(join(root, 'dist'), join(root, 'dist.old'));
} catch {
  // no dist/ yet
}
renameSync(staging, join(root, 'dist'));
rmSync(join(root, 'dist.old'), { recursive: true, force: true });
