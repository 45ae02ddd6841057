/**
 * bench/scale-layer.mjs: a layer of 100,000 small files, imported into an
 * empty store (`import TAR IMAGE`: digest, store the blob, unpack every file
 * as its owner), hutch against podman (rootless). The store is emptied
 * before every trial, untimed, so each one unpacks all of it. 10,000 files
 * as well, to show how the time grows with the count.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/scale-layer.mjs'
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser, run } from './lib/fixtures.mjs';

requireUnprivileged('bench/scale-layer.mjs');

const SMALL = 10_000;
const LARGE = 100_000;

/** A tar of `count` files of 100 bytes, 1,000 to a directory. */
function smallFilesTar(work, count) {
  const root = join(work, `files-${count}`);
  for (let i = 0; i < count; i++) {
    const dir = join(root, 'data', `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}`), `${String(i).padStart(99, '0')}\n`);
  }
  const tar = join(work, `files-${count}.tar`);
  run(['tar', '-cf', tar, '-C', root, '.']);
  rmSync(root, { recursive: true, force: true });
  return tar;
}

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hb-layer-'));
  const hutch = hutchUser(join(work, 'hutch'));
  const podman = podmanUser(join(work, 'podman'));
  const podmanMissing = () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null);
  return {
    name: 'scale-layer',
    // podman imports the 100,000 files in about a minute a trial here, a round takes ~80 s: two timed
    // rounds, no warm-up (the store is emptied before every trial anyway), peak RSS from the timed
    // trials, so that npm run bench stays under 15 minutes.
    defaults: { runs: 2, warmup: 0, rssInTimed: true },
    title: `Import a layer of small files into an empty store: ${SMALL} and ${LARGE} files of 100 bytes.`,
    subject: `hutch import ${LARGE}`,
    baselines: [`podman import ${LARGE}`, `hutch import ${SMALL}`],
    notes: [
      'the store is emptied before every trial (untimed): every trial digests, stores and unpacks the whole layer',
    ],
    setup: () => {
      smallFilesTar(work, SMALL);
      smallFilesTar(work, LARGE);
    },
    teardown: () => {
      hutch.dispose();
      podman.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: `hutch import ${SMALL}`,
        command: [hutchBin, 'import', join(work, `files-${SMALL}.tar`), 'localhost/small:latest'],
        env: hutch.env,
        beforeTrial: () => hutch.wipe(),
      },
      {
        name: `hutch import ${LARGE}`,
        command: [hutchBin, 'import', join(work, `files-${LARGE}.tar`), 'localhost/large:latest'],
        env: hutch.env,
        beforeTrial: () => hutch.wipe(),
      },
      {
        name: `podman import ${LARGE}`,
        command: podman.argv(['import', join(work, `files-${LARGE}.tar`), 'localhost/large:latest']),
        env: podman.env,
        available: podmanMissing,
        beforeTrial: () => podman.wipe(),
      },
    ],
  };
});
