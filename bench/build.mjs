/**
 * bench/build.mjs: building images, hutch build against `buildah bud` and
 * `podman build` on the same Containerfiles and contexts, in one run:
 *   busybox:     many steps (16) and a 50 MB context of random data;
 *   debian:      a Debian base, a user, files copied --chown, steps as the user;
 *   multi-stage: a busybox stage makes files, a second one copies them.
 * Each in three states, a report each:
 *   cold:    --no-cache: every step runs (base images already in the store);
 *   cached:  the same build again: every step from the layer cache;
 *   changed: one context file changed before every trial (a counter written
 *            into it), so the build reruns from the COPY that reads it.
 * All three tools: rootless, stores of their own, --network host for RUN
 * steps, --pull never (the base images are pulled once, from a registry on
 * 127.0.0.1), --format docker; buildah with --layers (its default is not to
 * cache) and --runtime runc, podman with --runtime runc (crun refuses this
 * host's hybrid cgroups); both peers on overlay storage (bench/lib/fixtures.mjs).
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/build.mjs'
 *
 * Defaults here: 3 timed rounds, 1 warm-up, 1 peak-RSS round (a round takes
 * seconds); --runs and the other flags still apply. HUTCH_BENCH_BUILD=busybox
 * (a comma-separated list) runs only those Containerfiles.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  buildahUser,
  debianRootfsTar,
  hutchBin,
  hutchUser,
  podmanUser,
  repo,
  run,
  startRegistry,
} from './lib/fixtures.mjs';

requireUnprivileged('bench/build.mjs');

const argv = process.argv.slice(2);
let options;
try {
  options = parseBenchArgs(argv);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`usage: node bench/build.mjs [options]\n${USAGE}\n`);
  process.exit(0);
}
// A round of the nine scenarios takes about 70 s here (buildah and podman take 2-15 s a build), so
// that npm run bench stays under 15 minutes: three timed rounds, no warm-up (the cached and changed
// states run a first build per tool in setup; the median of three drops a cold first trial), and
// peak RSS from the timed trials (GNU time's exec is noise next to seconds) instead of a round more.
if (!argv.some((a) => a.startsWith('--runs'))) options.runs = 3;
if (!argv.some((a) => a.startsWith('--warmup'))) options.warmup = 0;
if (!argv.some((a) => a.startsWith('--rss-runs'))) options.rssInTimed = true;

const missing = ['docker-registry', 'buildah', 'podman', 'runc'].filter((p) => which(p) === null);
const peerMissing = (name) => (missing.includes(name) ? `${name} is not installed (Debian package ${name})` : null);
if (missing.includes('docker-registry')) {
  process.stderr.write('bench/build: docker-registry is not installed (Debian package docker-registry)\n');
  process.exit(1);
}

/** The Containerfiles and their contexts. `changed` is the file rewritten before each "changed" trial. */
const PROJECTS = {
  busybox: {
    base: 'busybox',
    changed: 'app.txt',
    containerfile: `ARG BASE
FROM \${BASE}
ENV APP=/app
WORKDIR /app
COPY data/ data/
RUN du -s data > du.txt
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo "step $i" >> steps.txt; done
RUN mkdir -p out && cp du.txt steps.txt out/
LABEL bench=busybox
RUN echo one > one
RUN echo two > two
RUN echo three > three
RUN echo four > four
COPY app.txt .
RUN wc -c app.txt > app.size
RUN sha256sum app.txt > app.sum
CMD ["cat", "app.sum"]
`,
    files: () => {
      const files = [['app.txt', 'version 0\n']];
      // 50 MB of random data: nothing compresses it, nothing dedups it.
      for (let i = 0; i < 50; i++) files.push([`data/blob-${String(i).padStart(2, '0')}.bin`, randomBytes(1 << 20)]);
      return files;
    },
  },
  debian: {
    base: 'debian',
    changed: 'app.txt',
    containerfile: `ARG BASE
FROM \${BASE}
RUN useradd --create-home --uid 1500 app
COPY --chown=app:app files/ /home/app/files/
USER app
WORKDIR /home/app
RUN tar -cf files.tar files && sha256sum files.tar > files.sum
COPY --chown=app:app app.txt .
RUN cat app.txt files.sum > report.txt
CMD ["cat", "report.txt"]
`,
    files: () => {
      const files = [['app.txt', 'version 0\n']];
      for (let i = 0; i < 200; i++) {
        files.push([`files/dir-${i % 10}/file-${i}.txt`, `${randomBytes(512 + i * 16).toString('base64')}\n`]);
      }
      return files;
    },
  },
  'multi-stage': {
    base: 'busybox',
    changed: 'src/page-000.txt',
    containerfile: `ARG BASE
FROM \${BASE} AS build
WORKDIR /src
COPY src/ .
RUN mkdir -p /out && for f in *.txt; do tr a-z A-Z < "$f" > "/out/$f"; done
RUN tar -C /out -czf /site.tgz .
FROM \${BASE}
COPY --from=build /site.tgz /srv/
RUN mkdir -p /srv/www && tar -C /srv/www -xzf /srv/site.tgz
USER nobody
CMD ["ls", "/srv/www"]
`,
    files: () => {
      const files = [];
      for (let i = 0; i < 100; i++) {
        files.push([`src/page-${String(i).padStart(3, '0')}.txt`, `${randomBytes(2048).toString('hex')}\n`]);
      }
      return files;
    },
  },
};

const selected = (process.env.HUTCH_BENCH_BUILD ?? Object.keys(PROJECTS).join(',')).split(',');
for (const name of selected) {
  if (!(name in PROJECTS)) {
    process.stderr.write(`bench/build: HUTCH_BENCH_BUILD names ${name}; known: ${Object.keys(PROJECTS).join(', ')}\n`);
    process.exit(2);
  }
}

const work = mkdtempSync(join(tmpdir(), 'hutch-bench-build-'));
const source = hutchUser(join(work, 'source'));
const hutch = hutchUser(join(work, 'hutch'));
const podman = podmanUser(join(work, 'podman'));
const buildah = buildahUser(join(work, 'buildah'));
const registry = await startRegistry();
let failed = false;

try {
  process.stderr.write('build: preparing the base images (debootstrap the first time: about a minute)\n');
  const bases = { busybox: `${registry.host}/busybox:latest`, debian: `${registry.host}/debian:bookworm` };
  run([join(repo, 'scripts', 'busybox-image'), bases.busybox], { env: { ...source.env, HUTCH: hutchBin } });
  source.run([
    'import',
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD ["bash"]',
    debianRootfsTar(source),
    bases.debian,
  ]);
  for (const ref of Object.values(bases)) source.run(['push', '-q', '--tls-verify=false', ref]);

  const contexts = {};
  for (const [name, project] of Object.entries(PROJECTS)) {
    const dir = join(work, 'contexts', name);
    for (const [path, body] of project.files()) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), body);
    }
    writeFileSync(join(dir, 'Containerfile'), project.containerfile);
    contexts[name] = dir;
  }

  const pulls = {
    hutch: (ref) => hutch.run(['pull', '-q', '--tls-verify=false', ref]),
    podman: (ref) => podman.run(['pull', '-q', '--tls-verify=false', ref]),
    buildah: (ref) => buildah.run(['pull', '-q', '--tls-verify=false', ref]),
  };
  const pulled = new Set();
  const pullOnce = (tool, ref) => {
    if (pulled.has(`${tool} ${ref}`)) return;
    pulls[tool](ref);
    pulled.add(`${tool} ${ref}`);
  };

  let counter = 0;
  const scenarioFor = (name, state) => {
    const project = PROJECTS[name];
    const dir = contexts[name];
    const base = bases[project.base];
    const tag = `localhost/bench-${name}:latest`;
    const common = ['-t', tag, '-f', join(dir, 'Containerfile'), '--build-arg', `BASE=${base}`, '--network', 'host'];
    const noCache = state === 'cold' ? ['--no-cache'] : [];
    const argvs = {
      'hutch build': [hutchBin, 'build', '-q', '--format', 'docker', '--pull', 'never', ...noCache, ...common, dir],
      'buildah bud': buildah.argv([
        'bud',
        '-q',
        '--format',
        'docker',
        '--layers',
        '--pull=never',
        '--runtime',
        'runc',
        ...noCache,
        ...common,
        dir,
      ]),
      'podman build': podman.argv(['build', '-q', '--format', 'docker', '--pull=never', ...noCache, ...common, dir]),
    };
    const change = () => writeFileSync(join(dir, project.changed), `version ${++counter}\n`);
    const driver = (label, tool, env, available) => ({
      name: label,
      command: argvs[label],
      env,
      available,
      // Untimed: the base image in the store, and for the cached states a first build to fill the cache.
      setup: () => {
        pullOnce(tool, base);
        if (state !== 'cold') run(argvs[label], { env });
      },
      ...(state === 'changed' ? { beforeTrial: change } : {}),
    });
    return {
      name: `build-${name}-${state}`,
      title: `Build the ${name} Containerfile, ${
        state === 'cold'
          ? 'cold (--no-cache)'
          : state === 'cached'
            ? 'fully cached'
            : `with one context file (${project.changed}) changed`
      }.`,
      subject: 'hutch build',
      baselines: ['buildah bud', 'podman build'],
      notes: [
        'all rootless with stores of their own; RUN steps on the host network; base images pulled beforehand (--pull never)',
        'buildah bud with --layers (its default does not cache) and --runtime runc; podman with --runtime runc; both on overlay storage',
        ...(state === 'changed' ? [`${project.changed} is rewritten before every trial (untimed)`] : []),
      ],
      timeoutMs: 600_000,
      drivers: [
        driver('hutch build', 'hutch', hutch.env),
        driver('buildah bud', 'buildah', buildah.env, () => peerMissing('buildah') ?? peerMissing('runc')),
        driver('podman build', 'podman', podman.env, () => peerMissing('podman') ?? peerMissing('runc')),
      ],
    };
  };

  for (const name of selected) {
    for (const state of ['cold', 'cached', 'changed']) {
      const scenario = scenarioFor(name, state);
      const report = await runScenario(scenario, options);
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
  }
} finally {
  await registry.stop();
  hutch.dispose();
  source.dispose();
  podman.dispose();
  buildah.dispose();
  rmSync(work, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
