// Fails on an import cycle between modules of src/, and on an import against
// the layering. Each folder of src/ has a rank and imports only from lower
// ranks or its own: cli > verbs > build > run > image > host > fs > the files
// at the top of src/ (errors, native, units, package, explain), which import
// only each other.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = walk(src);
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const targets = [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)]
    // Type-only imports vanish at run time but still count for layering.
    .map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  graph.set(file, targets);
}

const RANKS = { fs: 1, host: 2, image: 3, run: 4, build: 5, verbs: 6, cli: 7 };
const NAMES = Object.keys(RANKS).reverse().join(' > ');

const rank = (file) => {
  const parts = relative(src, file).split('/');
  if (parts.length === 1) return 0;
  const rank = RANKS[parts[0]];
  if (rank === undefined) throw new Error(`src/${parts[0]}/ has no rank: add it to RANKS in scripts/check-cycles.mjs`);
  return rank;
};

const problems = [];
for (const [file, targets] of graph) {
  for (const target of targets) {
    if (!graph.has(target))
      problems.push(`${relative(src, file)}: import of a missing module ${relative(src, target)}`);
    else if (rank(target) > rank(file)) {
      problems.push(
        `${relative(src, file)} imports ${relative(src, target)}: imports go down the ranks ${NAMES} > src/*.ts`,
      );
    }
  }
}

// Cycles: depth-first search with colours.
const state = new Map();
const stack = [];
function visit(file) {
  state.set(file, 'open');
  stack.push(file);
  for (const target of graph.get(file) ?? []) {
    if (!graph.has(target)) continue;
    if (state.get(target) === 'open') {
      const cycle = stack.slice(stack.indexOf(target)).concat(target);
      problems.push(`import cycle: ${cycle.map((f) => relative(src, f)).join(' -> ')}`);
    } else if (!state.has(target)) {
      visit(target);
    }
  }
  stack.pop();
  state.set(file, 'done');
}
for (const file of files) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`no import cycles or upward imports in ${files.length} modules`);
