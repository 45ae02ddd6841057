/**
 * bench/startup.mjs: what a command that does nothing costs in hutch's user
 * namespace, next to node's own start-up (the floor hutch cannot go under, as
 * a node program), util-linux `unshare --user` (the kernel's floor for a user
 * namespace), and `podman unshare` (the peer that also keeps a session).
 *
 * The hutch drivers use a session of their own (a private XDG_RUNTIME_DIR):
 * the cold driver kills its holder before every trial, and must not kill the
 * session of whoever else runs hutch as the same user.
 *
 *   cd /tmp && runuser -u hutch-ci -- node /work/main/bench/startup.mjs --runs 15
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { main, requireUnprivileged, sleepSync, tail, which } from './lib/harness.mjs';

requireUnprivileged('bench/startup.mjs');

const repo = new URL('..', import.meta.url).pathname;
const hutchBin = join(repo, 'bin', 'hutch');
const hutchEntry = join(repo, 'dist', 'hutch.cjs');
/** bin/hutch execs $HUTCH_NODE or the node on PATH (native/launcher.c); `node -e 0` runs the same one. */
const node = process.env.HUTCH_NODE || 'node';
const uid = process.getuid?.() ?? -1;

/**
 * The runtime directory of a hutch started with env: the rule of src/host/dirs.ts
 * and native/launcher.c ($XDG_RUNTIME_DIR/hutch when that is a directory we
 * own, else /tmp/hutch-UID).
 */
function runtimeDir(env) {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg?.startsWith('/')) {
    try {
      const st = statSync(xdg);
      if (st.isDirectory() && st.uid === uid) return join(xdg, 'hutch');
    } catch {
      // not there: /tmp then
    }
  }
  return `/tmp/hutch-${uid}`;
}

/** The session holder's pid, when the pid file names a live hutch-session. */
function sessionPid(runtime) {
  try {
    const pid = Number(readFileSync(join(runtime, 'session.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'hutch-session\0' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Kills the session holder and waits until it is gone (it is not our child: poll /proc). */
function stopSession(runtime) {
  const pid = sessionPid(runtime);
  if (pid === undefined) return;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  while (sessionPid(runtime) === pid) {
    if (Date.now() > deadline) throw new Error(`session holder ${pid} still alive 5 s after SIGKILL`);
    sleepSync(1);
  }
}

/** null when argv exits 0 here, else why not (exit status and stderr). */
function probe(argv, env) {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env, timeout: 120_000 });
  if (result.error) return `\`${argv.join(' ')}\`: ${result.error.message}`;
  if (result.status === 0) return null;
  const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.status}`;
  return `\`${argv.join(' ')}\` fails as ${userInfo().username} (${how}): ${tail(result.stderr, 600) || 'no stderr'}`;
}

function hutchBuilt() {
  try {
    accessSync(hutchBin, constants.X_OK);
    accessSync(hutchEntry, constants.R_OK);
    return null;
  } catch (error) {
    return `hutch is not built or not readable here (${error instanceof Error ? error.message : error}): run \`npm run build\` and \`chmod -R a+rX\` the checkout`;
  }
}

function nodeNote() {
  const path = which(node);
  if (path === null) return `node: '${node}' is not on PATH`;
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return `node: ${path} ${version}, the one bin/hutch execs and \`node -e 0\` runs`;
}

/** @returns {import('./lib/harness.mjs').Scenario} */
function startupScenario() {
  const base = mkdtempSync(join(tmpdir(), 'hutch-bench-session-'));
  /** @type {Record<string, string | undefined>} */
  const hutchEnv = { XDG_RUNTIME_DIR: base, XDG_DATA_HOME: join(base, 'data'), HUTCH_SESSION: undefined };
  const runtime = runtimeDir({ XDG_RUNTIME_DIR: base });
  const envFor = (extra) => {
    const env = { ...process.env };
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  };

  return {
    name: 'startup',
    defaults: { runs: 15, warmup: 2, rssRuns: 1 },
    title: 'Start-up: spawn to exit of a command that does nothing, inside a user namespace or not.',
    subject: 'hutch unshare true',
    baselines: ['node -e 0', 'unshare --user true', 'podman unshare true'],
    notes: [
      nodeNote(),
      `hutch drivers use a session of their own (XDG_RUNTIME_DIR=${base}), removed at the end`,
      'every figure includes the cost of spawning a process from the harness: see the `true` row',
    ],
    drivers: [
      {
        name: 'true',
        command: ['true'],
        note: 'no namespace, no node: what starting any process costs the harness (in every other figure too)',
      },
      {
        name: 'node -e 0',
        command: [node, '-e', '0'],
        note: "node's own start-up: the floor for any node CLI",
        available: () => (which(node) ? null : `'${node}' is not on PATH`),
      },
      {
        name: 'unshare --user true',
        command: ['unshare', '--user', 'true'],
        note: 'util-linux: a new user namespace (no id mapping), then exec: the kernel floor',
        available: () => (which('unshare') ? probe(['unshare', '--user', 'true']) : 'unshare (util-linux) is missing'),
      },
      {
        name: 'podman unshare true',
        command: ['podman', 'unshare', 'true'],
        note: "joins podman's pause process namespace (warm after the first run); no OCI runtime involved",
        available: () =>
          which('podman') ? probe(['podman', 'unshare', 'true']) : 'podman is not installed (Debian package podman)',
      },
      {
        name: 'hutch --version',
        command: [hutchBin, '--version'],
        env: hutchEnv,
        note: 'launcher (joins the session with setns) + node + CLI load; no command run in the namespace',
        available: hutchBuilt,
      },
      {
        name: 'hutch unshare true',
        command: [hutchBin, 'unshare', 'true'],
        env: hutchEnv,
        note: 'model (a), the one hutch uses: bin/hutch joins the existing session with setns, node starts once inside it and execs `true`',
        available: hutchBuilt,
        setup: () => {
          const reason = probe([hutchBin, 'unshare', 'true'], envFor(hutchEnv));
          if (reason !== null) throw new Error(reason);
          if (sessionPid(runtime) === undefined) throw new Error(`no session holder recorded in ${runtime}`);
        },
        beforeTrial: () => {
          if (sessionPid(runtime) === undefined) throw new Error(`no session in ${runtime}: this trial would be cold`);
        },
      },
      {
        name: 'hutch unshare true (cold)',
        command: [hutchBin, 'unshare', 'true'],
        env: hutchEnv,
        note: 'the session holder is killed before each trial: a new user namespace, newuidmap/newgidmap and a second node start inside it. This is what model (b), re-executing node in a new namespace, would cost on every command',
        available: hutchBuilt,
        beforeTrial: () => stopSession(runtime),
      },
    ],
    teardown: () => {
      stopSession(runtime);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

await main(startupScenario);
