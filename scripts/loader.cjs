'use strict';
// dist/hutch.cjs, the file bin/hutch starts node on (scripts/build.mjs writes it from this one,
// with the bundle's id filled in). It runs the CLI bundle dist/cli.cjs through V8's code cache:
// node 20 has no module.enableCompileCache, and parsing and compiling the ~1 MB bundle on every
// command cost more than the rest of a short command's JavaScript.
//
// The cache of a verb is written when the first command of that verb after a build exits, so it
// holds every function that command compiled (V8 keeps what has been compiled by then), and is
// kept in $XDG_CACHE_HOME/hutch/code-cache (~/.cache when unset). Its name carries the bundle's
// content hash, node's version and a hash of node's flags: V8 checks its own version and flags
// but only the source's length, so a cache never meets a bundle it was not made from. Anything
// that goes wrong with the cache only costs the compile it would have saved.
const { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
const { wrap } = require('node:module');

const BUNDLE_ID = '@BUNDLE_ID@';
const bundle = join(__dirname, 'cli.cjs');

/** FNV-1a, 32 bits: enough to tell node's flag sets apart, without loading node:crypto. */
function fnv(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16);
}

function cacheDir() {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'hutch', 'code-cache');
  const home = process.env.HOME;
  return home !== undefined && home.startsWith('/') ? join(home, '.cache', 'hutch', 'code-cache') : undefined;
}

const dir = cacheDir();
const verb = /^[a-z][a-z-]{0,31}$/.test(process.argv[2] ?? '') ? process.argv[2] : '_';
const flags = fnv(`${process.execArgv.join('\0')}\0${process.env.NODE_OPTIONS ?? ''}`);
const prefix = `${BUNDLE_ID}-`;
const cacheFile = dir === undefined ? undefined : join(dir, `${prefix}${process.version}-${flags}-${verb}.bin`);

let cachedData;
if (cacheFile !== undefined) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet: made at exit
  }
}
// ASCII only (scripts/build.mjs escapes the rest): latin1 is a copy, where UTF-8 decoding took ~20 ms.
const script = new Script(wrap(readFileSync(bundle, 'latin1')), { filename: bundle, cachedData });
if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
  process.once('exit', () => {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Caches of other builds go once unused for a week: not at once, since two checkouts run in
      // turn (a test run of each) would then remove each other's at every command.
      const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
      for (const name of readdirSync(dir)) {
        if (name.startsWith(prefix)) continue;
        try {
          if (statSync(join(dir, name)).mtimeMs < weekAgo) unlinkSync(join(dir, name));
        } catch {
          // gone meanwhile
        }
      }
      // Written whole, then renamed: a command starting meanwhile reads the old file or the new one.
      const temporary = `${cacheFile}.${process.pid}`;
      writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
      renameSync(temporary, cacheFile);
    } catch {
      // a read-only or full home: no cache, as before
    }
  });
}
const cli = { exports: {} };
script.runInThisContext()(cli.exports, require, cli, bundle, __dirname);
