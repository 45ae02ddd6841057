/**
 * bench/run-network.mjs: starting a container with the default network of a
 * rootless run, `run --rm IMAGE true`: hutch (slirp4netns, attached before
 * the command runs, gone with the container) against podman (rootless,
 * --runtime runc, its default slirp4netns), with `run --rm --network none`
 * of each for what the network adds.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/run-network.mjs'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar } from './lib/busybox.mjs';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser } from './lib/fixtures.mjs';

requireUnprivileged('bench/run-network.mjs');

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hb-runnet-'));
  const hutch = hutchUser(join(work, 'h'));
  const podman = podmanUser(join(work, 'p'));
  const image = 'localhost/bench-busybox:latest';
  const podmanMissing = () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null);
  return {
    name: 'run-network',
    defaults: { runs: 10, warmup: 2, rssRuns: 1 },
    title: 'Start a container that runs `true` and is removed, with the default network: run --rm IMAGE true.',
    subject: 'hutch run',
    baselines: ['podman run', 'hutch run --network none'],
    notes: ['the default network of both: slirp4netns (a tap device, 10.0.2.100, DNS at 10.0.2.3)'],
    setup: () => hutch.run(['import', busyboxTar(), image]),
    teardown: () => {
      hutch.dispose();
      podman.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      { name: 'hutch run', command: [hutchBin, 'run', '--rm', image, 'true'], env: hutch.env },
      {
        name: 'hutch run --network none',
        command: [hutchBin, 'run', '--rm', '--network', 'none', image, 'true'],
        env: hutch.env,
      },
      {
        name: 'podman run',
        command: podman.argv(['run', '--rm', image, 'true']),
        env: podman.env,
        available: podmanMissing,
        setup: () => podman.run(['import', busyboxTar(), image]),
      },
      {
        name: 'podman run --network none',
        command: podman.argv(['run', '--rm', '--network', 'none', image, 'true']),
        env: podman.env,
        available: podmanMissing,
      },
    ],
  };
});
