/**
 * cli-runner HUTCH BUSYBOX_TAR — the resource limits through the command
 * line, as a user meets them: run with --memory, --pids-limit, --cpus;
 * inspect, stats, pause/unpause, update, stop, kill, rm -f. Every command's
 * status, output and duration, and the readings taken between them, go to
 * stdout as one JSON object for test/integration/cgroups-guest.test.ts to
 * judge. Runs in the user-mode-linux guest, with XDG_RUNTIME_DIR and
 * XDG_DATA_HOME on its tmpfs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const [hutch, busyboxTar] = process.argv.slice(2) as [string, string];

interface Step {
  args: string[];
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const steps: Step[] = [];

function run(...args: string[]): Step {
  const t0 = Date.now();
  const result = spawnSync(hutch, args, { encoding: 'utf8', timeout: 120_000 });
  const step = {
    args,
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: Date.now() - t0,
  };
  steps.push(step);
  return step;
}

function json(step: Step): unknown {
  try {
    return JSON.parse(step.stdout);
  } catch {
    return { unparsed: step.stdout, stderr: step.stderr };
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

type Raw = Record<string, number | null>;

/** One `stats --no-stream --format json` reading of a container: the numbers behind podman's strings. */
function reading(name: string): Raw | undefined {
  const rows = json(run('stats', '--no-stream', '--format', 'json', name)) as { raw?: Raw }[];
  return Array.isArray(rows) ? rows[0]?.raw : undefined;
}

/** CPU time over wall time between two readings (each says when it was taken). */
function share(a: Raw | undefined, b: Raw | undefined): number | null {
  if (a === undefined || b === undefined) return null;
  const cpu = (b.cpuTimeUsec as number) - (a.cpuTimeUsec as number);
  return cpu / (((b.readAt as number) - (a.readAt as number)) * 1000);
}

function counter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return -1;
  }
}

/** `hutch run` arguments: the flags and image as one string (no quoting needed), then the command. */
function runArgs(flags: string, ...command: string[]): string[] {
  return ['run', ...flags.split(' '), ...command];
}

const result: Record<string, unknown> = {};
run('import', busyboxTar, 'busybox');

// This kernel has no cpuset controller: refused, never ignored.
result.cpuset = run(...runArgs('--rm --cpuset-cpus 0 busybox', 'true'));

// --memory 32m against 100 MB.
const oom = run(
  ...runArgs('--name oom --memory 32m busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'),
);
result.oom = { status: oom.status, inspect: json(run('inspect', 'oom')) };

// A fork loop under --pids-limit 20 (`command eval` keeps busybox sh alive when fork fails). It
// spins on the failures: --cpus 0.2 leaves the guest's one CPU to the commands that follow.
const forkLoop = "while :; do command eval 'sleep 30 &'; done 2>/dev/null";
run(...runArgs('-d --name forky --pids-limit 20 --cpus 0.2 busybox', 'sh', '-c', forkLoop));
pause(2000);
const forky = reading('forky');
const stop = run('stop', '-t', '1', 'forky');
result.pids = { reading: forky, stop: { status: stop.status, ms: stop.ms }, inspect: json(run('inspect', 'forky')) };

// --cpus 0.5 on a busy loop, read twice through hutch stats; then hutch update to 0.2.
run(...runArgs('-d --name busy --cpus 0.5 busybox', 'sh', '-c', 'while :; do :; done'));
pause(1000);
const c1 = reading('busy');
pause(4000);
const c2 = reading('busy');
const update = run('update', '--cpus', '0.2', 'busy');
const c3 = reading('busy');
pause(4000);
const c4 = reading('busy');
const rm = run('rm', '-f', 'busy');
result.cpu = {
  limited: share(c1, c2),
  updated: share(c3, c4),
  first: c1,
  second: c2,
  update: { status: update.status, stdout: update.stdout, stderr: update.stderr },
  rm: { status: rm.status, ms: rm.ms },
};

// pause freezes a counter the container writes to a bind mount; unpause resumes it.
const out = join(tmpdir(), 'counter');
mkdirSync(out, { recursive: true });
const count = 'i=0; while :; do i=$((i+1)); echo $i > /out/count; sleep 0.1; done';
run(...runArgs(`-d --name counter --pids-limit 50 -v ${out}:/out busybox`, 'sh', '-c', count));
pause(1500);
const exec = run('exec', 'counter', 'cat', '/proc/self/cgroup');
const paused = run('pause', 'counter');
const atPause = counter(join(out, 'count'));
pause(1500);
const whilePaused = counter(join(out, 'count'));
const inspectPaused = json(run('inspect', 'counter'));
const psPaused = run('ps');
const execPaused = run('exec', 'counter', 'true');
const table = run('stats', '--no-stream', 'counter');
const unpaused = run('unpause', 'counter');
pause(1500);
const afterUnpause = counter(join(out, 'count'));
const kill = run('kill', 'counter');
pause(500);
result.pause = {
  pause: { status: paused.status, stderr: paused.stderr },
  unpause: { status: unpaused.status, stderr: unpaused.stderr },
  atPause,
  whilePaused,
  afterUnpause,
  inspectPaused,
  ps: psPaused.stdout,
  exec: { status: exec.status, stdout: exec.stdout, stderr: exec.stderr },
  execPaused: { status: execPaused.status, stderr: execPaused.stderr },
  table: table.stdout,
  kill: { status: kill.status },
  inspectAfter: json(run('inspect', 'counter')),
};

// Without limits a container still gets a cgroup of its own here: stats and pause work for it.
run(...runArgs('-d --name plain busybox', 'sleep', '30'));
const plainInspect = json(run('inspect', 'plain')) as { State: { CgroupPath: string } }[];
const plainPause = run('pause', 'plain');
const plainRm = run('rm', '-f', 'plain');
result.plain = {
  cgroup: plainInspect[0]?.State.CgroupPath,
  pause: { status: plainPause.status, stderr: plainPause.stderr },
  rm: plainRm.status,
};
// Every container has exited or is gone: their cgroups went with them (cleanup, rm -f, stop, kill).
pause(1000);
const parent = dirname(plainInspect[0]?.State.CgroupPath ?? '/nonexistent/x');
result.leftCgroups = existsSync(parent)
  ? readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
  : null;

// The guest, and its tmpfs with everything hutch wrote, goes away: nothing to remove.
result.steps = steps.map((s) => ({ args: s.args.join(' '), status: s.status, ms: s.ms }));
process.stdout.write(`${JSON.stringify(result)}\n`);
