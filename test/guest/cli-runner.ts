/**
 * cli-runner HUTCH BUSYBOX_TAR — the resource limits through the command
 * line, as a user meets them: run with --memory, --pids-limit, --cpus;
 * inspect, stats, pause/unpause, update, exec, stop, kill, rm -f. Every
 * command's status, output and duration, and the readings taken between them
 * (CPU time straight from the container's cpu.stat, as the kernel counts it),
 * go to stdout as one JSON object for test/integration/cgroups-guest.test.ts
 * to judge. Runs in the user-mode-linux guest, with XDG_RUNTIME_DIR and
 * XDG_DATA_HOME on its tmpfs. A hutch command costs seconds in the guest, so
 * there are as few as the scenarios need.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  const result = spawnSync(hutch, args, { encoding: 'utf8', timeout: 180_000 });
  const step = { args, status: result.status, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - t0 };
  steps.push(step);
  // As it goes, so that a guest killed at its timeout still shows how far it got.
  appendFileSync('cli-steps.log', `${step.status} ${step.ms} ms: ${args.join(' ')}\n${step.stderr}`);
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

/** `hutch run` arguments: the flags and image as one string (no quoting needed), then the command. */
function runArgs(flags: string, ...command: string[]): string[] {
  return ['run', ...flags.split(' '), ...command];
}

/** Where hutch makes container cgroups: ROOT/hutch, ROOT being the delegated parent of this job's leaf. */
const containersCgroup = join(
  '/sys/fs/cgroup',
  dirname(/^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/'),
  'hutch',
);

function cgroupFile(id: string, name: string): string | undefined {
  try {
    return readFileSync(join(containersCgroup, id, name), 'utf8');
  } catch {
    return undefined;
  }
}

/** cpu.stat usage_usec of the container and when it was read. */
function usage(id: string): { usec: number; at: bigint } {
  const usec = Number(/^usage_usec (\d+)$/m.exec(cgroupFile(id, 'cpu.stat') ?? '')?.[1] ?? NaN);
  return { usec, at: process.hrtime.bigint() };
}

/** CPU time over wall time between two readings. */
function share(a: { usec: number; at: bigint }, b: { usec: number; at: bigint }): number {
  return (b.usec - a.usec) / (Number(b.at - a.at) / 1000);
}

function counter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return -1;
  }
}

const result: Record<string, unknown> = {};
run('import', busyboxTar, 'busybox');

// This kernel has no cpuset controller: refused, never ignored.
result.cpuset = run(...runArgs('--rm --cpuset-cpus 0 busybox', 'true'));

// --memory 32m against 100 MB, attached: the exit status is the container's.
const oom = run(
  ...runArgs('--name oom --memory 32m busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1'),
);

// A fork loop under --pids-limit 20 (`command eval` keeps busybox sh alive when fork fails). It
// spins on the failures: --cpus 0.2 leaves the guest's one CPU to the commands that follow.
const forkLoop = "while :; do command eval 'sleep 30 &'; done 2>/dev/null";
const forky = run(...runArgs('-d --name forky --pids-limit 20 --cpus 0.2 busybox', 'sh', '-c', forkLoop)).stdout.trim();
// Until the loop has run into the limit (pids.events "max" counts refused forks), 10 s at most.
for (let i = 0; i < 40 && !/^max [1-9]/m.test(cgroupFile(forky, 'pids.events') ?? ''); i++) pause(250);
pause(500);
const pids = {
  current: Number(cgroupFile(forky, 'pids.current')),
  max: cgroupFile(forky, 'pids.max')?.trim(),
  events: cgroupFile(forky, 'pids.events'),
};
const stop = run('stop', '-t', '1', 'forky');
result.pids = {
  ...pids,
  stop: { status: stop.status, ms: stop.ms },
  gone: cgroupFile(forky, 'cgroup.procs') === undefined,
};

// No --pids-limit: podman's default of 2048 is the container's pids.max (that the kernel holds a
// pids.max is what forky shows above, with 20; filling 2048 here would take minutes of guest time).
const dflt = run(...runArgs('-d --name dflt busybox', 'sleep', '300')).stdout.trim();
const dfltPids = { max: cgroupFile(dflt, 'pids.max')?.trim() };
const dfltStop = run('stop', '-t', '1', 'dflt');
// A build's RUN steps get the default too.
const context = join(tmpdir(), 'pids-context');
mkdirSync(context, { recursive: true });
writeFileSync(join(context, 'Containerfile'), 'FROM busybox\nRUN cat /sys/fs/cgroup/pids.max > /pids.max\n');
const built = run('build', '-q', '-t', 'pids-default', context);
const builtPids = run('run', '--rm', 'pids-default', 'cat', '/pids.max');
result.defaultPids = {
  ...dfltPids,
  stop: { status: dfltStop.status, ms: dfltStop.ms },
  gone: cgroupFile(dflt, 'cgroup.procs') === undefined,
  build: { status: built.status, stderr: built.stderr },
  buildPidsMax: builtPids.stdout,
};

// --cpus 0.5 on a busy loop, then hutch update --cpus 0.2; hutch stats read before and after.
// --pids-limit 0 lifts podman's default (as -1 does): pids.max stays "max".
const busy = run(
  ...runArgs('-d --name busy --cpus 0.5 --pids-limit 0 busybox', 'sh', '-c', 'while :; do :; done'),
).stdout.trim();
const busyPidsMax = cgroupFile(busy, 'pids.max');
pause(1000);
const c1 = usage(busy);
pause(4000);
const c2 = usage(busy);
const stats1 = json(run('stats', '--no-stream', '--format', 'json', 'busy'));
const update = run('update', '--cpus', '0.2', 'busy');
const cpuMax = cgroupFile(busy, 'cpu.max');
const c3 = usage(busy);
pause(4000);
const c4 = usage(busy);
const stats2 = json(run('stats', '--no-stream', '--format', 'json', 'busy'));
const rm = run('rm', '-t', '0', '-f', 'busy');
result.cpu = {
  limited: share(c1, c2),
  updated: share(c3, c4),
  cpuMax,
  pidsMax: busyPidsMax,
  stats: [stats1, stats2],
  update: { status: update.status, stdout: update.stdout, stderr: update.stderr },
  rm: { status: rm.status, gone: cgroupFile(busy, 'cgroup.procs') === undefined },
};

// pause freezes a counter the container writes to a bind mount; unpause resumes it; exec joins the cgroup.
const out = join(tmpdir(), 'counter');
mkdirSync(out, { recursive: true });
const count = 'i=0; while :; do i=$((i+1)); echo $i > /out/count; sleep 0.1; done';
run(...runArgs(`-d --name counter --pids-limit 50 -v ${out}:/out busybox`, 'sh', '-c', count));
const exec = run('exec', 'counter', 'cat', '/proc/self/cgroup');
const paused = run('pause', 'counter');
const atPause = counter(join(out, 'count'));
pause(1500);
const whilePaused = counter(join(out, 'count'));
const inspectPaused = json(run('inspect', 'counter'));
const psPaused = run('ps', '-a');
const execPaused = run('exec', 'counter', 'true');
const unpaused = run('unpause', 'counter');
pause(3000);
const afterUnpause = counter(join(out, 'count'));
const kill = run('kill', 'counter');
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
  kill: { status: kill.status },
};

// Without limits a container still gets a cgroup of its own here: pause works for it.
const plain = run(...runArgs('-d --name plain busybox', 'sleep', '300')).stdout.trim();
const plainCgroup = cgroupFile(plain, 'cgroup.events');
const plainPause = run('pause', 'plain');
const plainRm = run('rm', '-t', '0', '-f', 'plain');
result.plain = {
  cgroupEvents: plainCgroup,
  pause: { status: plainPause.status, stderr: plainPause.stderr },
  rm: plainRm.status,
};

// The exited containers as inspect tells them; every cgroup went with its container (cleanup, rm -f, stop, kill).
result.inspect = json(run('inspect', 'oom', 'forky', 'counter', 'dflt'));
result.oom = { status: oom.status };
const containerCgroups = () =>
  readdirSync(containersCgroup, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
// The last container's cleanup runs from its monitor, after the kill: give it a moment.
for (let i = 0; i < 20 && containerCgroups().length > 0; i++) pause(500);
result.leftCgroups = containerCgroups();

// The guest, and its tmpfs with everything hutch wrote, goes away: nothing else to remove.
result.steps = steps.map((s) => ({ args: s.args.join(' '), status: s.status, ms: s.ms }));
process.stdout.write(`${JSON.stringify(result)}\n`);
