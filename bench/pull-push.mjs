/**
 * bench/pull-push.mjs: moving images between a registry on 127.0.0.1 and the
 * store, hutch against podman and skopeo, on the same images in one run:
 *   pull, cold store: a debootstrap Debian image (about 200 MB unpacked) and
 *     a synthetic image of 50 layers (random data); skopeo copies to an OCI
 *     directory (it unpacks nothing), podman and hutch unpack every layer;
 *   pull, warm: the image is already there;
 *   push gzip and push zstd of the Debian image to an empty registry.
 * Each scenario writes its own report. Run as the unprivileged user:
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/pull-push.mjs'
 *
 * Defaults here are 5 timed rounds, 1 warm-up and 1 peak-RSS round, since a
 * round takes seconds; --runs and the other flags still apply.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseBenchArgs,
  renderSummary,
  requireUnprivileged,
  runScenario,
  USAGE,
  which,
  writeReport,
} from './lib/harness.mjs';
import {
  debianRootfsTar,
  hutchBin,
  hutchUser,
  podmanUser,
  run,
  startRegistry,
  syntheticLayout,
} from './lib/fixtures.mjs';

requireUnprivileged('bench/pull-push.mjs');

const argv = process.argv.slice(2);
let options;
try {
  options = parseBenchArgs(argv);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
// Cold pulls and pushes take 3-10 s a trial here, so that npm run bench stays under 15 minutes: three
// timed rounds, no warm-up (the registry's blobs were just written: they are in the page cache), and
// peak RSS from the timed trials (GNU time's exec is noise next to seconds) instead of a round more.
// The warm pull, a trial under a second, keeps five rounds after a warm-up and a separate RSS round.
if (!argv.some((a) => a.startsWith('--runs'))) options.runs = 3;
if (!argv.some((a) => a.startsWith('--warmup'))) options.warmup = 0;
if (!argv.some((a) => a.startsWith('--rss-runs'))) options.rssInTimed = true;
const warmOptions = {
  ...options,
  runs: argv.some((a) => a.startsWith('--runs')) ? options.runs : 5,
  warmup: argv.some((a) => a.startsWith('--warmup')) ? options.warmup : 1,
  rssInTimed: false,
  rssRuns: argv.some((a) => a.startsWith('--rss-runs')) ? options.rssRuns : 1,
};

const missing = ['docker-registry', 'skopeo', 'podman'].filter((p) => which(p) === null);
const peerMissing = (name) => (missing.includes(name) ? `${name} is not installed (Debian package ${name})` : null);

const work = mkdtempSync(join(tmpdir(), 'hutch-bench-images-'));
const source = hutchUser(join(work, 'source'));
const hutch = hutchUser(join(work, 'hutch'));
const podman = podmanUser(join(work, 'podman'));
const pullRegistry = await startRegistry();
const pushRegistry = await startRegistry();
const tls = '--tls-verify=false';
let failed = false;

try {
  process.stderr.write('pull-push: preparing the images (debootstrap the first time: about a minute)\n');
  const debianTar = debianRootfsTar(source);
  const debian = `${pullRegistry.host}/debian:bookworm`;
  source.run(['import', debianTar, debian]);
  source.run(['push', '-q', tls, debian]);
  const layout = join(work, 'synthetic');
  await syntheticLayout(layout);
  const synthetic = `${pullRegistry.host}/synthetic:50`;
  run(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:synthetic`, `docker://${synthetic}`]);
  const ociDir = join(work, 'skopeo-oci');

  const pullScenario = (label, image) => ({
    name: `pull-cold-${label}`,
    title: `Pull ${image} into an empty store (${label}).`,
    subject: 'hutch pull',
    baselines: ['podman pull', 'skopeo copy to an OCI dir'],
    notes: ['hutch and podman store and unpack every layer; skopeo only stores the blobs in an OCI layout'],
    drivers: [
      {
        name: 'hutch pull',
        command: [hutchBin, 'pull', '-q', tls, image],
        env: hutch.env,
        beforeTrial: () => hutch.wipe(),
      },
      {
        name: 'podman pull',
        command: podman.argv(['pull', '-q', tls, image]),
        env: podman.env,
        available: () => peerMissing('podman'),
        beforeTrial: () => podman.wipe(),
      },
      {
        name: 'skopeo copy to an OCI dir',
        command: ['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `oci:${ociDir}:x`],
        available: () => peerMissing('skopeo'),
        beforeTrial: () => rmSync(ociDir, { recursive: true, force: true }),
      },
    ],
  });

  const warmScenario = {
    name: 'pull-warm-debian',
    title: `Pull ${debian} when the store already has it.`,
    subject: 'hutch pull',
    baselines: ['podman pull'],
    drivers: [
      {
        name: 'hutch pull',
        command: [hutchBin, 'pull', '-q', tls, debian],
        env: hutch.env,
        setup: () => hutch.run(['pull', '-q', tls, debian]),
      },
      {
        name: 'podman pull',
        command: podman.argv(['pull', '-q', tls, debian]),
        env: podman.env,
        available: () => peerMissing('podman'),
        setup: () => podman.run(['pull', '-q', tls, debian]),
      },
    ],
  };

  const pushScenario = (compression) => ({
    name: `push-${compression}-debian`,
    title: `Push the Debian image to an empty registry, ${compression} layers.`,
    subject: 'hutch push',
    baselines: ['podman push'],
    notes: [
      'the registry is emptied (restarted on empty storage) before every trial, so every blob is uploaded',
      compression === 'zstd'
        ? "hutch's cache of recompressed layers is cleared before every trial, so it compresses every time as podman does"
        : 'hutch uploads the gzip blobs it pulled; podman keeps layers unpacked and compresses them on push',
    ],
    drivers: [
      {
        name: 'hutch push',
        command: [
          hutchBin,
          'push',
          '-q',
          tls,
          '--compression-format',
          compression,
          debian,
          `${pushRegistry.host}/debian:bookworm`,
        ],
        env: hutch.env,
        setup: () => hutch.run(['pull', '-q', tls, debian]),
        beforeTrial: async () => {
          await pushRegistry.restart();
          rmSync(join(hutch.storage, 'conversions.json'), { force: true });
        },
      },
      {
        name: 'podman push',
        command: podman.argv([
          'push',
          '-q',
          tls,
          '--compression-format',
          compression,
          debian,
          `docker://${pushRegistry.host}/debian:bookworm`,
        ]),
        env: podman.env,
        available: () => peerMissing('podman'),
        setup: () => podman.run(['pull', '-q', tls, debian]),
        beforeTrial: () => pushRegistry.restart(),
      },
    ],
  });

  // The cold Debian pull right before the warm one and the pushes: its last trial leaves the image in
  // both stores, so their setup pulls find it there instead of pulling it once more.
  for (const scenario of [
    pullScenario('50-layers', synthetic),
    pullScenario('debian', debian),
    warmScenario,
    pushScenario('gzip'),
    pushScenario('zstd'),
  ]) {
    const report = await runScenario(scenario, scenario === warmScenario ? warmOptions : options);
    if (report.drivers.some((d) => d.status === 'failed')) failed = true;
    let files = null;
    try {
      files = writeReport(report, options.out);
    } catch (error) {
      process.stderr.write(
        `${scenario.name}: cannot write the results: ${error instanceof Error ? error.message : error}\n`,
      );
      failed = true;
    }
    if (options.jsonOnly) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      process.stdout.write(renderSummary(report));
      if (files) process.stdout.write(`results: ${files.json}\n         ${files.md}\n\n`);
    }
  }
} finally {
  await pullRegistry.stop();
  await pushRegistry.stop();
  hutch.dispose();
  source.dispose();
  podman.dispose();
  rmSync(work, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
