// Bundles the CLI into dist/ with esbuild: one file for the start-up path and
// a chunk per verb, loaded when the verb runs. Node starts on every command,
// and loading ~25 modules one by one cost about 20 ms more than one bundle
// (bench/startup). Types are checked separately (npm run typecheck).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { hutch: 'src/cli/main.ts' },
  outdir: 'dist',
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
