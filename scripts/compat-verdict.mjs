// The verdict of scripts/compat: what podman's system tests found (the kit's OUT directory)
// against what the project says about them: docs/compat.md lists the deliberate differences,
// test/compat/not-yet.txt the open work. Both name a test as `FILE #N` (030-run #12) at the
// start of a line or of a table cell.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [out, compatDoc, notYetFile, baseline] = process.argv.slice(2);
if (baseline === undefined) {
  process.stderr.write('usage: compat-verdict.mjs OUT docs/compat.md test/compat/not-yet.txt BASELINE\n');
  process.exit(2);
}

const testId = /^(?:\|\s*)?(\d{3}-[a-z0-9-]+ #\d+)\b/;
const listed = (file) =>
  existsSync(file)
    ? new Set(
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line) => testId.exec(line.trim())?.[1])
          .filter((id) => id !== undefined),
      )
    : new Set();
const deliberate = listed(compatDoc);
const notYet = listed(notYetFile);

// podman's passes per file (skips are not passes), and the files that ran.
const passesOf = (name) =>
  readFileSync(join(baseline, `${name}.podman.tap`), 'utf8')
    .split('\n')
    .filter((l) => /^ok \d+/.test(l) && !/ # skip/.test(l)).length;
const rows = readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n').slice(1);
const ran = new Set(rows.map((row) => row.split('\t')[0]));
const podmanPasses = [...ran].reduce((sum, name) => sum + passesOf(name), 0);
const allPasses = readdirSync(baseline)
  .filter((f) => f.endsWith('.podman.tap'))
  .reduce((sum, f) => sum + passesOf(f.replace(/\.podman\.tap$/, '')), 0);

const failing = new Map();
for (const line of readFileSync(join(out, 'only-hutch-fails.txt'), 'utf8').split('\n')) {
  const id = /^(\S+ #\d+)/.exec(line)?.[1];
  if (id !== undefined) failing.set(id, line);
}

const problems = [];
// Said, not failed: one pass under load is not yet a test that passes every time.
const notices = [];
for (const [id, line] of failing) {
  if (!deliberate.has(id) && !notYet.has(id)) problems.push(`fails only with hutch, listed nowhere: ${line}`);
}
for (const [list, ids] of [
  ['docs/compat.md', deliberate],
  ['test/compat/not-yet.txt', notYet],
]) {
  for (const id of ids) {
    if (ran.has(id.split(' ')[0]) && !failing.has(id)) notices.push(`passes now: take ${id} off ${list}`);
  }
}
if (deliberate.size >= allPasses * 0.05) {
  problems.push(
    `docs/compat.md lists ${deliberate.size} deliberate differences: more than 5% of podman's ${allPasses} passes`,
  );
}

const failingHere = failing.size;
process.stdout.write(
  `compat: hutch passes ${podmanPasses - failingHere} of the ${podmanPasses} tests that pass with podman ` +
    `(${rows.length} files); ${deliberate.size} deliberate differences, ${notYet.size} not yet done\n`,
);
for (const notice of notices) process.stdout.write(`compat: ${notice}\n`);
for (const problem of problems) process.stdout.write(`compat: ${problem}\n`);
process.exit(problems.length === 0 ? 0 : 1);
