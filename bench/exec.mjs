/**
 * bench/exec.mjs: `exec CTR true` on a running container, hutch against
 * podman (rootless, --runtime runc), with `node -e 0` as the floor of a node
 * CLI. Also prints the resident memory of what supervises each detached
 * container: hutch-monitor against podman's conmon, read from
 * /proc/PID/status while the container sleeps.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/exec.mjs'
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar } from './lib/busybox.mjs';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser } from './lib/fixtures.mjs';

requireUnprivileged('bench/exec.mjs');

/** VmRSS of a process, in KiB, or undefined when it is gone. */
function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function inspectPid(argv, env, name) {
  const out = execFileSync(argv[0], [...argv.slice(1), 'inspect', '--format', '{{.State.ConmonPid}}', name], {
    env,
    encoding: 'utf8',
  });
  return Number(out.trim());
}

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hutch-bench-exec-'));
  const hutch = hutchUser(join(work, 'hutch'));
  const podman = podmanUser(join(work, 'podman'));
  const image = 'localhost/bench-busybox:latest';
  const notes = [
    'each tool runs one detached `sleep 3600` container, set up before the warm-up; every trial is one exec',
    'podman: rootless, its own storage (overlay), --runtime runc',
  ];
  const supervisors = {};
  return {
    name: 'exec',
    defaults: { runs: 10, warmup: 2, rssRuns: 1 },
    title: 'Run `true` in a running container: exec CTR true.',
    subject: 'hutch exec',
    baselines: ['podman exec', 'node -e 0'],
    notes,
    setup: () => {
      hutch.run(['import', busyboxTar(), image]);
      hutch.run(['run', '-d', '--name', 'sleeper', '--network', 'none', image, 'sleep', '3600']);
      supervisors.hutch = inspectPid([hutchBin], hutch.env, 'sleeper');
    },
    teardown: () => {
      const hutchRss = rssKiB(supervisors.hutch);
      const conmonRss = supervisors.podman === undefined ? undefined : rssKiB(supervisors.podman);
      const line =
        `supervisor of a detached container, VmRSS: hutch-monitor ${hutchRss ?? '?'} KiB` +
        (conmonRss === undefined
          ? ' (conmon: podman did not run)'
          : `, conmon ${conmonRss} KiB, ratio ${hutchRss === undefined ? '?' : (hutchRss / conmonRss).toFixed(2)}×`);
      process.stdout.write(`${line}\n`);
      try {
        hutch.run(['rm', '-f', '-t', '0', 'sleeper']);
      } catch {
        // never started
      }
      try {
        podman.run(['rm', '-f', '-t', '0', 'sleeper']);
      } catch {
        // never started
      }
      hutch.dispose();
      podman.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: 'hutch exec',
        command: [hutchBin, 'exec', 'sleeper', 'true'],
        env: hutch.env,
      },
      {
        name: 'podman exec',
        command: podman.argv(['exec', 'sleeper', 'true']),
        env: podman.env,
        available: () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null),
        setup: () => {
          podman.run(['import', busyboxTar(), image]);
          podman.run(['run', '-d', '--name', 'sleeper', '--network', 'none', image, 'sleep', '3600']);
          supervisors.podman = inspectPid(podman.argv([]), podman.env, 'sleeper');
        },
      },
      {
        name: 'node -e 0',
        command: ['node', '-e', '0'],
        note: "node's own start-up: the floor for any node CLI",
      },
    ],
  };
});
