// Builds the addon and the launcher with node-gyp (npm's own copy), against the
// headers of the node that runs this script when they are installed next to it,
// so that nothing is downloaded. Then installs the launcher as bin/hutch.
import { spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const debug = process.env.HUTCH_DEBUG_BUILD === '1';

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const bundled = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  return ['node-gyp'];
}

// Both cores: the addon's sources compile independently.
const args = ['rebuild', '--jobs', 'max'];
if (debug) args.push('--debug');
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);

const [command, ...rest] = nodeGyp();
const result = spawnSync(command, [...rest, ...args], { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`Error: cannot run node-gyp: ${result.error.message}`);
  console.error('hint: install npm (it ships node-gyp), python3, make and g++');
  process.exit(1);
}
if (result.status !== 0) process.exit(result.status ?? 1);

const built = join(root, 'build', debug ? 'Debug' : 'Release', 'hutch');
mkdirSync(join(root, 'bin'), { recursive: true });
const target = join(root, 'bin', 'hutch');
copyFileSync(built, `${target}.tmp`);
chmodSync(`${target}.tmp`, 0o755);
renameSync(`${target}.tmp`, target);
