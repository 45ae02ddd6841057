// The static half of `npm run check`: types, lint (with the layer ranks) and format, run side by side
// (each is a single-threaded node process; together they take the time of the slowest, not the sum).
// Each keeps a cache keyed by file content outside the checkout, so a fresh clone of an unchanged tree
// (CI copies the checkout afresh every run, to the same place) re-checks only what changed. One cache per
// checkout directory: two checkouts checked at once would otherwise rewrite each other's tsbuildinfo.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const checkout = createHash('sha256').update(process.cwd()).digest('hex').slice(0, 16);
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hutch-check', checkout);
mkdirSync(cache, { recursive: true });

const checks = [
  [
    'types',
    'npx',
    ['tsc', '--noEmit', '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', join(cache, 'tsbuildinfo')],
  ],
  [
    'lint',
    'sh',
    [
      '-c',
      `npx eslint --cache --cache-strategy content --cache-location ${join(cache, 'eslint')} . && node scripts/check-cycles.mjs`,
    ],
  ],
  [
    'format',
    'sh',
    [
      '-c',
      `npx prettier --check --cache --cache-strategy content --cache-location ${join(cache, 'prettier')} . && ` +
        'clang-format --dry-run --Werror native/*.cc native/*.h native/*.c test/fixtures/*.c',
    ],
  ],
];

const results = await Promise.all(
  checks.map(
    ([name, command, args]) =>
      new Promise((resolve) => {
        const started = Date.now();
        const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('close', (code, signal) =>
          resolve({ name, ok: code === 0, code, signal, output, ms: Date.now() - started }),
        );
        child.on('error', (error) =>
          resolve({ name, ok: false, code: null, signal: null, output: String(error), ms: 0 }),
        );
      }),
  ),
);

// Printed one after the other, so the three outputs do not interleave.
for (const r of results) {
  process.stdout.write(`==> ${r.name}: ${r.ok ? 'ok' : 'FAILED'} (${(r.ms / 1000).toFixed(1)} s)\n`);
  if (!r.ok || r.output.trim() !== '') process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
