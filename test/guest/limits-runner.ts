/**
 * limits-runner SCENARIO… — drives src/run/cgroups directly, as container
 * start does: a workload (busybox sh, held at `read go` as a container is held
 * before its first instruction) is put into a container cgroup, let go, and
 * measured from outside. Prints {scenario: result} as JSON; a scenario that
 * throws reports {error, hint}. Bundled with esbuild by the tests and run in
 * the user-mode-linux guest (real limits) and on the host (freezer, kill,
 * refusals), directly or inside the session with `hutch unshare node BUNDLE`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HutchError } from '../../src/errors.js';
import {
  addProcess,
  createContainerCgroup,
  freeze,
  isFrozen,
  isPopulated,
  killAll,
  readStats,
  removeContainerCgroup,
  type CgroupState,
  type Limits,
} from '../../src/run/cgroups/index.js';
import { readCgroupFacts } from '../../src/run/cgroups/probe.js';
import { readCgroupFile, readEvents } from '../../src/run/cgroups/v2.js';

const MiB = 1024 * 1024;
const BUSYBOX = '/bin/busybox';

/** A cgroup as container start makes it, limits or not. */
async function cgroupFor(name: string, limits: Limits): Promise<CgroupState> {
  const state = await createContainerCgroup(`test-${name}-${randomBytes(4).toString('hex')}`, limits);
  if (state === undefined) throw new Error('createContainerCgroup returned no cgroup in a delegated subtree');
  return state;
}

interface Workload {
  child: ChildProcess;
  pid: number;
  go(): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** busybox sh running `script` once it reads a line: nothing of it runs before go(). */
function workload(script: string): Workload {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid: child.pid as number, go: () => child.stdin?.end('go\n'), exited };
}

/** A workload in its own cgroup, let go. */
async function started(name: string, limits: Limits, script: string): Promise<{ state: CgroupState; w: Workload }> {
  const state = await cgroupFor(name, limits);
  const w = workload(script);
  addProcess(state, w.pid);
  w.go();
  return { state, w };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function finish(state: CgroupState, w: Workload): Promise<void> {
  killAll(state, 9);
  await within(w.exited, 10_000, 'the workload exiting after SIGKILL');
  await removeContainerCgroup(state);
}

/** CPU time over wall time for `ms`, after a short warm-up. */
async function cpuShare(state: CgroupState, ms: number): Promise<number> {
  await sleep(300);
  const u0 = readStats(state).cpuUsageUsec;
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const u1 = readStats(state).cpuUsageUsec;
  const t1 = process.hrtime.bigint();
  return (u1 - u0) / (Number(t1 - t0) / 1000);
}

function counter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return -1;
  }
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /** createContainerCgroup for --memory: a cgroup on a host that can, the refusal on one that cannot. */
  async refuse() {
    const state = await createContainerCgroup(`test-refuse-${randomBytes(4).toString('hex')}`, { memory: 32 * MiB });
    if (state === undefined) throw new Error('no cgroup for --memory');
    const memoryMax = readCgroupFile(state.path, 'memory.max')?.trim();
    await removeContainerCgroup(state);
    return { created: state.path, memoryMax };
  },

  /** No limits: still a cgroup of its own where a subtree is delegated (stats, pause, cgroup.kill), nothing written. */
  async plain() {
    const state = await createContainerCgroup(`test-plain-${randomBytes(4).toString('hex')}`, {});
    if (state === undefined) return { state: null };
    const result = {
      path: state.path,
      events: readEvents(state.path),
      pidsMax: readCgroupFile(state.path, 'pids.max'),
    };
    await removeContainerCgroup(state);
    return { ...result, removed: readEvents(state.path) === undefined };
  },

  /** The freezer stops a counter; thawing resumes it. */
  async pause() {
    const file = join(tmpdir(), `hutch-counter-${process.pid}`);
    const limits: Limits = process.argv.includes('--no-limits') ? {} : { pidsLimit: 50 };
    const { state, w } = await started(
      'pause',
      limits,
      `i=0; while :; do i=$((i+1)); echo $i > ${file}; ${BUSYBOX} sleep 0.05; done`,
    );
    await sleep(600);
    const before = counter(file);
    await freeze(state, true);
    const frozen = isFrozen(state);
    const atFreeze = counter(file);
    await sleep(1000);
    const whileFrozen = counter(file);
    await freeze(state, false);
    const thawed = !isFrozen(state);
    await sleep(1000);
    const after = counter(file);
    await finish(state, w);
    return { before, atFreeze, whileFrozen, after, frozen, thawed };
  },

  /** cgroup.kill takes a process and everything it forked; removal then leaves nothing. */
  async kill() {
    const { state, w } = await started('kill', {}, `${BUSYBOX} sleep 300 & ${BUSYBOX} sleep 300 & wait`);
    await sleep(500);
    const procs = readCgroupFile(state.path, 'cgroup.procs')?.trim().split('\n').length ?? 0;
    const t0 = Date.now();
    killAll(state, 9);
    const exit = await within(w.exited, 10_000, 'exit after cgroup.kill');
    const deadline = Date.now() + 10_000;
    while (isPopulated(state) && Date.now() < deadline) await sleep(10);
    const emptyMs = Date.now() - t0;
    const populated = isPopulated(state);
    await removeContainerCgroup(state);
    await removeContainerCgroup(state); // idempotent
    const events = readEvents(state.path);
    return { procs, exit, emptyMs, populated, removed: events === undefined };
  },

  /** A killed cgroup that still holds processes is emptied and removed by removeContainerCgroup. */
  async remove() {
    const { state, w } = await started('remove', {}, `${BUSYBOX} sleep 300 & ${BUSYBOX} sleep 300`);
    await sleep(300);
    await removeContainerCgroup(state);
    const exit = await within(w.exited, 10_000, 'exit after removal');
    return { exit, removed: readEvents(state.path) === undefined };
  },

  /** --cpus 0.5 against a busy loop, beside the same loop unlimited. */
  async cpu() {
    const loop = 'while :; do :; done';
    const free = await started('cpu-free', { pidsLimit: 10 }, loop);
    const unlimited = await cpuShare(free.state, 2000);
    await finish(free.state, free.w);
    const half = await started('cpu-half', { cpus: 0.5 }, loop);
    const limited = await cpuShare(half.state, 4000);
    const cpuMax = readCgroupFile(half.state.path, 'cpu.max')?.trim();
    const throttled = readStats(half.state).cpuThrottledPeriods;
    await finish(half.state, half.w);
    return { unlimited, limited, cpuMax, throttled };
  },

  /** --device-read-bps on the scratch disk (/dev/ubda) against the same read unlimited. */
  async io() {
    const read = (skipMiB: number) =>
      `exec ${BUSYBOX} dd if=/dev/ubda of=/dev/null bs=64k count=48 skip=${skipMiB * 16} iflag=direct 2>/dev/null`;
    const timed = async (name: string, limits: Limits, script: string) => {
      const t0 = Date.now();
      const { state, w } = await started(name, limits, script);
      const exit = await within(w.exited, 60_000, 'the read');
      const seconds = (Date.now() - t0) / 1000;
      const ioStat = readCgroupFile(state.path, 'io.stat')?.trim();
      const ioMax = readCgroupFile(state.path, 'io.max')?.trim();
      await removeContainerCgroup(state);
      return { exit, seconds, ioStat, ioMax };
    };
    const free = await timed('io-free', { pidsLimit: 10 }, read(0));
    const limited = await timed('io-limited', { deviceReadBps: [{ device: '/dev/ubda', rate: MiB }] }, read(16));
    return { free, limited };
  },

  /** Run from the root of a delegated subtree: hutch moves itself (and its parent shell) into a leaf first. */
  async leave() {
    const own = () => /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    const facts = readCgroupFacts();
    const before = own();
    const { state, w } = await started('leave', { pidsLimit: 10 }, `${BUSYBOX} sleep 300`);
    const after = own();
    const root = facts.delegationRoot as string;
    const result = {
      root,
      before,
      after,
      rootProcs: readCgroupFile(root, 'cgroup.procs')?.trim(),
      rootSubtree: readCgroupFile(root, 'cgroup.subtree_control')?.trim(),
      pidsMax: readCgroupFile(state.path, 'pids.max')?.trim(),
      path: state.path,
    };
    await finish(state, w);
    return result;
  },
};

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  for (const name of process.argv.slice(2).filter((a) => !a.startsWith('--'))) {
    const scenario = scenarios[name];
    if (scenario === undefined) throw new Error(`unknown scenario ${name}`);
    const t0 = Date.now();
    try {
      results[name] = { ...((await scenario()) as object), ms: Date.now() - t0 };
    } catch (error) {
      results[name] = {
        error: error instanceof Error ? error.message : String(error),
        hint: error instanceof HutchError ? error.hint : undefined,
        exitCode: error instanceof HutchError ? error.exitCode : undefined,
        ms: Date.now() - t0,
      };
    }
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
