/**
 * bench/net.mjs: TCP throughput from the host into a container through a
 * published port. Each trial (in-process) connects to 127.0.0.1:PORT, sends
 * a fixed amount of data, and is over when the container's side has read it
 * all and closed: busybox `nc -ll -e` runs `cat > /dev/null` per connection.
 * hutch with slirp4netns (its default) and with pasta against rootless podman
 * (--runtime runc) with slirp4netns and with pasta, on the same host, in one
 * run. The harness reports times; the throughput (MiB/s, median) and the
 * hutch/podman throughput ratios are printed after it.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/net.mjs'
 */
/* global setTimeout */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, median, requireUnprivileged, which } from './lib/harness.mjs';
import { cacheDir, freePort, hutchBin, hutchUser, podmanUser, run } from './lib/fixtures.mjs';

requireUnprivileged('bench/net.mjs');

/** Sent per trial: large enough that a connection's set-up is a small part of it. */
const BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 0x61);
const SINK = ['nc', '-ll', '-p', '5001', '-e', 'sh', '-c', 'cat > /dev/null'];

/** The busybox rootfs tar the tests cache (test/helpers/images.ts), or why there is none. */
function busyboxTar() {
  const found = existsSync(cacheDir)
    ? readdirSync(cacheDir).find((n) => /^busybox-rootfs-.*\.tar$/.test(n))
    : undefined;
  if (found === undefined) {
    throw new Error(`no busybox rootfs tar in ${cacheDir}: run the tests once (bash scripts/test) to make it`);
  }
  return join(cacheDir, found);
}

/** Sends BYTES to 127.0.0.1:port; resolves when the far side has closed (it read everything). */
function send(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let left = BYTES;
    socket.once('error', reject);
    socket.once('close', (hadError) => (hadError ? undefined : resolve()));
    socket.once('connect', () => {
      const pump = () => {
        while (left > 0) {
          left -= CHUNK.length;
          if (!socket.write(CHUNK)) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    // The sink never writes; a reply would mean something else answers on the port.
    socket.on('data', () => reject(new Error(`127.0.0.1:${port} answered: not the sink`)));
    socket.resume();
  });
}

/** Throughput samples per driver (MiB/s), kept next to the harness's times. */
const throughput = new Map();

/** An in-process driver that sends to the port and records the throughput. */
function sender(name, port) {
  const command = async function sendThroughPublishedPort() {
    const start = process.hrtime.bigint();
    await send(port());
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (!throughput.has(name)) throughput.set(name, []);
    throughput.get(name).push(BYTES / (1024 * 1024) / seconds);
  };
  return command;
}

/** Waits until the sink accepts connections (the container is up and its port forwarded). */
async function waitForSink(port) {
  for (let i = 0; i < 100; i++) {
    try {
      await new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.end();
          resolve();
        });
        socket.once('error', reject);
      });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nothing accepts connections on 127.0.0.1:${port}`);
}

await main(async () => {
  // Short: podman's slirp4netns API socket goes under it and a socket path holds 107 bytes.
  const work = mkdtempSync(join(tmpdir(), 'hbn-'));
  const hutch = hutchUser(join(work, 'hutch'));
  const podman = podmanUser(join(work, 'podman'));
  const image = 'localhost/bench-busybox:latest';
  const ports = {};
  const sink = (who, name, network) => async () => {
    ports[name] = await freePort();
    who.run([
      'run',
      '-d',
      '--name',
      name.replace(/\W+/g, '-').replace(/-+$/, ''),
      '--network',
      network,
      '-p',
      `${ports[name]}:5001`,
      image,
      ...SINK,
    ]);
    await waitForSink(ports[name]);
    // Warm the path once, untimed.
    await send(ports[name]);
    throughput.delete(name);
  };
  const podmanMissing = () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null);
  const podmanPasta = () => {
    const missing = podmanMissing();
    if (missing !== null) return missing;
    const version = run(['podman', '--version']).trim();
    const [major, minor] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
    return major > 4 || (major === 4 && minor >= 4) ? null : `${version} has no --network pasta (podman 4.4 added it)`;
  };
  return {
    name: 'net',
    defaults: { runs: 6, warmup: 1, rssRuns: 0 },
    title: `Send ${BYTES / (1024 * 1024)} MiB over TCP from the host into a container through a published port (-p).`,
    subject: 'hutch slirp4netns',
    baselines: ['podman slirp4netns', 'podman slirp4netns:port_handler=slirp4netns'],
    notes: [
      'in-process trials: connect to 127.0.0.1:PORT, send, wait until busybox nc -ll -e "cat > /dev/null" has read it all and closed',
      'times: shorter is faster; throughput (MiB/s) and its ratios follow the report',
      "hutch: slirp4netns's own add_hostfwd (API socket); pasta: its -t forwarding",
      'podman: rootless, --runtime runc, its default port handler (rootlessport) for slirp4netns',
    ],
    setup: () => hutch.run(['import', busyboxTar(), image]),
    teardown: () => {
      for (const who of [hutch, podman]) {
        try {
          who.run(['rm', '-af']);
        } catch {
          // nothing was started
        }
      }
      hutch.dispose();
      podman.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: 'hutch slirp4netns',
        command: sender('hutch slirp4netns', () => ports['hutch slirp4netns']),
        setup: sink(hutch, 'hutch slirp4netns', 'slirp4netns'),
        note: `${hutchBin} run -d -p PORT:5001`,
      },
      {
        name: 'hutch pasta',
        command: sender('hutch pasta', () => ports['hutch pasta']),
        available: () => (which('pasta') === null ? 'pasta is not installed (Debian package passt)' : null),
        setup: sink(hutch, 'hutch pasta', 'pasta'),
      },
      {
        name: 'podman slirp4netns',
        command: sender('podman slirp4netns', () => ports['podman slirp4netns']),
        available: podmanMissing,
        setup: async () => {
          podman.run(['import', busyboxTar(), image]);
          await sink(podman, 'podman slirp4netns', 'slirp4netns')();
        },
      },
      {
        name: 'podman slirp4netns:port_handler=slirp4netns',
        command: sender(
          'podman slirp4netns:port_handler=slirp4netns',
          () => ports['podman slirp4netns:port_handler=slirp4netns'],
        ),
        available: podmanMissing,
        setup: async () => {
          podman.run(['import', busyboxTar(), image]);
          await sink(podman, 'podman slirp4netns:port_handler=slirp4netns', 'slirp4netns:port_handler=slirp4netns')();
        },
        note: "slirp4netns's own forwarding, as hutch's: the container sees the client's address",
      },
      {
        name: 'podman pasta',
        command: sender('podman pasta', () => ports['podman pasta']),
        available: podmanPasta,
        setup: async () => {
          podman.run(['import', busyboxTar(), image]);
          await sink(podman, 'podman pasta', 'pasta')();
        },
      },
    ],
  };
});

const medians = new Map([...throughput].map(([name, samples]) => [name, median(samples)]));
if (medians.size > 0 && !process.argv.includes('--json-only')) {
  const lines = ['throughput (median of the timed and warm-up trials, MiB/s):'];
  for (const [name, value] of medians) lines.push(`  ${name.padEnd(46)} ${value.toFixed(1)}`);
  for (const [mine, theirs] of [
    ['hutch slirp4netns', 'podman slirp4netns'],
    ['hutch slirp4netns', 'podman slirp4netns:port_handler=slirp4netns'],
    ['hutch pasta', 'podman pasta'],
    ['hutch pasta', 'podman slirp4netns'],
  ]) {
    if (medians.has(mine) && medians.has(theirs)) {
      lines.push(`  ${mine} / ${theirs}: ${(medians.get(mine) / medians.get(theirs)).toFixed(2)}×`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
