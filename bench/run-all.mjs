/**
 * `npm run bench`: every bench/*.mjs scenario script in turn, each in a node
 * process of its own, with the same flags. Exits 1 when one of them did not
 * succeed (after running the rest); 2 on bad flags.
 *
 * With --json-only each script prints its report as one JSON line, so stdout
 * is JSON Lines; this script's own words go to stderr then. The closing lines
 * give each script's wall time and the total (the goal: under 15 minutes on a
 * 2-core machine; the scenarios' `defaults` set their rounds to fit).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchArgs, USAGE } from './lib/harness.mjs';

const dir = new URL('.', import.meta.url).pathname;
const args = process.argv.slice(2);

let options;
try {
  options = parseBenchArgs(args);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`usage: npm run bench -- [options]   (every bench/*.mjs in turn)\n${USAGE}\n`);
  process.exit(0);
}

const say = (line) => (options.jsonOnly ? process.stderr : process.stdout).write(`${line}\n`);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run-all.mjs')
  .sort();

const outcomes = [];
const started = Date.now();
for (const script of scripts) {
  say(`== bench/${script}`);
  const start = Date.now();
  const result = spawnSync(process.execPath, [join(dir, script), ...args], { stdio: 'inherit' });
  const seconds = Math.round((Date.now() - start) / 1000);
  const how = result.error
    ? `cannot start: ${result.error.message}`
    : result.signal
      ? `killed by ${result.signal}`
      : result.status === 0
        ? 'ok'
        : `exit code ${result.status}`;
  outcomes.push({ script, how, seconds });
  say('');
}

for (const { script, how, seconds } of outcomes) say(`bench/${script}: ${how} (${seconds} s)`);
say(`total: ${Math.round((Date.now() - started) / 1000)} s`);
if (outcomes.some((o) => o.how !== 'ok')) process.exitCode = 1;
