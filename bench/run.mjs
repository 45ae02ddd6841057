/**
 * bench/run.mjs: starting a container that does nothing, `run --rm
 * --network none IMAGE true`, hutch against podman (rootless, --runtime runc:
 * crun refuses this host's hybrid cgroups), bubblewrap on the same rootfs
 * (namespaces and a bind-mounted root, no image store), and node's own
 * start-up as the floor a node CLI cannot go under. One run, interleaved.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/run.mjs'
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar } from './lib/busybox.mjs';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser, run } from './lib/fixtures.mjs';

requireUnprivileged('bench/run.mjs');

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hutch-bench-run-'));
  const hutch = hutchUser(join(work, 'hutch'));
  const podman = podmanUser(join(work, 'podman'));
  const rootfs = join(work, 'rootfs');
  const image = 'localhost/bench-busybox:latest';
  return {
    name: 'run',
    defaults: { runs: 10, warmup: 2, rssRuns: 1 },
    title: 'Start a container that runs `true` and is removed: run --rm --network none IMAGE true.',
    subject: 'hutch run',
    baselines: ['podman run', 'bwrap', 'node -e 0'],
    notes: [
      'the same busybox rootfs everywhere: imported by hutch and podman, extracted to a directory for bwrap',
      'podman: rootless, its own storage (overlay), --runtime runc',
    ],
    setup: () => {
      const tar = busyboxTar();
      hutch.run(['import', tar, image]);
      mkdirSync(rootfs);
      run(['tar', '-xf', tar, '-C', rootfs]);
    },
    teardown: () => {
      hutch.dispose();
      podman.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: 'hutch run',
        command: [hutchBin, 'run', '--rm', '--network', 'none', image, 'true'],
        env: hutch.env,
      },
      {
        name: 'podman run',
        command: podman.argv(['run', '--rm', '--network', 'none', image, 'true']),
        env: podman.env,
        available: () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null),
        setup: () => podman.run(['import', busyboxTar(), image]),
      },
      {
        name: 'bwrap',
        command: ['bwrap', '--unshare-all', '--ro-bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'],
        available: () => (which('bwrap') === null ? 'bubblewrap is not installed (Debian package bubblewrap)' : null),
        note: 'namespaces, a bind-mounted root, /proc and /dev: no store, no overlay, no monitor',
      },
      {
        name: 'unshare',
        command: [
          'unshare',
          '--user',
          '--map-root-user',
          '--mount',
          '--pid',
          '--fork',
          '--net',
          '--uts',
          '--ipc',
          'true',
        ],
        note: 'the same namespaces made by util-linux unshare, and nothing else: the floor of the kernel work',
      },
      {
        name: 'node -e 0',
        command: ['node', '-e', '0'],
        note: "node's own start-up: the floor for any node CLI",
      },
    ],
  };
});
