/**
 * cgroups on this host, as the unprivileged user in the v2 subtree delegated
 * to it (scripts/test delegates one as systemd's Delegate=yes would, and moves
 * the test shell into a leaf of it). This host's v2 hierarchy has no memory,
 * pids or cpu controller (HOST.md), so what is proved here is what works
 * without them — the freezer, cgroup.kill, cgroup.events, cpu.stat, moving
 * out of the delegation root — and that asking for --memory is refused with
 * the reason and the fix. Real limits are proved in the guest
 * (cgroups-guest.test.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import { leaveRoot, prepareContainersParent } from '../../src/run/cgroups/delegation.js';
import {
  addProcess,
  createContainerCgroup,
  freeze,
  isFrozen,
  isPopulated,
  killAll,
  oomKilled,
  readStats,
  removeContainerCgroup,
  type CgroupState,
} from '../../src/run/cgroups/index.js';
import { probeCgroups, readCgroupFacts } from '../../src/run/cgroups/probe.js';
import { moveProcess, processesOf, readCgroupFile, readEvents } from '../../src/run/cgroups/v2.js';
import { errorLines, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, prerequisite, requires } from '../helpers/requires.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** A delegated v2 subtree, as scripts/test provisions it: locally its absence skips, in CI it fails. */
function delegation(): { skip: boolean } {
  if (need.skip) return need;
  const facts = readCgroupFacts();
  if (facts.delegated && facts.delegationRoot !== null) return { skip: false };
  return prerequisite(
    `no cgroup v2 subtree is delegated to this user (${facts.v2Dir ?? 'no v2 cgroup'}); scripts/test delegates one`,
  );
}
const delegated = delegation();

const BUSYBOX = '/bin/busybox';
let count = 0;

/** A container cgroup without limits (this host can enforce none), as start makes it. */
async function leaf(): Promise<CgroupState> {
  const state = await createContainerCgroup(`test-host-${process.pid}-${++count}`, {});
  if (state === undefined) throw new Error('no cgroup in a delegated subtree');
  return state;
}

interface Workload {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** busybox sh running `script` in the cgroup: held at `read go` until it is there, as a container is. */
function workload(state: CgroupState, script: string): Workload {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  addProcess(state, child.pid as number);
  child.stdin?.end('go\n');
  return { child, exited };
}

function counter(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return -1;
  }
}

async function until(done: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
  return done();
}

describe.skipIf(delegated.skip)('cgroups on this host, in the delegated subtree', () => {
  let work: string;
  const made: CgroupState[] = [];
  const track = (state: CgroupState) => (made.push(state), state);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'hutch-cgroups-host-'));
  });
  afterAll(async () => {
    for (const state of made) await removeContainerCgroup(state).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it('finds the subtree as hutch info reports it, and selects the v2 driver', () => {
    const report = probeCgroups();
    expect(report.delegated).toBe(true);
    expect(report.v2Dir?.startsWith(`${report.delegationRoot}`)).toBe(true);
    expect(report.selected).toBe('v2');
    expect(report.drivers[0]?.detail).toContain(`${report.delegationRoot}/hutch`);
  });

  it('gives every container a cgroup of its own under ROOT/hutch, limits or not ("no limit" values need no controller)', async () => {
    const root = readCgroupFacts().delegationRoot as string;
    for (const limits of [{}, { pidsLimit: -1, cpus: 0 }]) {
      const state = track((await createContainerCgroup(`test-plain-${process.pid}-${++count}`, limits)) as CgroupState);
      expect(state.path).toBe(join(root, 'hutch', `test-plain-${process.pid}-${count}`));
      expect(readEvents(state.path)).toEqual({ populated: false, frozen: false });
      await removeContainerCgroup(state);
      expect(readEvents(state.path)).toBeUndefined();
    }
    // Nothing runs in the delegation root any more: it hands controllers on.
    expect(processesOf(root)).toEqual([]);
  });

  it('refuses --memory it cannot enforce with the reason and the fix (exit 125), or enforces it', async () => {
    const facts = readCgroupFacts();
    const attempt = createContainerCgroup(`test-memory-${process.pid}`, { memory: 32 * 1024 * 1024 });
    if (!facts.delegatedControllers.includes('memory')) {
      const error = (await attempt.catch((e: unknown) => e)) as HutchError;
      expect(error).toBeInstanceOf(HutchError);
      expect(error.exitCode).toBe(125);
      if (facts.layout === 'hybrid') {
        // This host (HOST.md).
        expect(error.message).toBe(
          `cannot enforce --memory (cgroup v2 memory controller): this host binds memory to cgroup v1; its cgroup v2 hierarchy at ${facts.v2Mount} cannot have it (a v1/v2 hybrid layout)`,
        );
        expect(error.hint).toBe(
          'boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line to get cgroup v2 controllers',
        );
      } else {
        expect(error.message).toMatch(/^cannot enforce --memory \(cgroup v2 memory controller\): /);
      }
      // Nothing was left behind by the refusal.
      expect(readEvents(join(facts.delegationRoot as string, 'hutch', `test-memory-${process.pid}`))).toBeUndefined();
    } else {
      const state = track((await attempt) as CgroupState);
      expect(readCgroupFile(state.path, 'memory.max')?.trim()).toBe(String(32 * 1024 * 1024));
    }
  });

  it('freezes a counter and thaws it (cgroup.freeze, cgroup.events)', async () => {
    const state = track(await leaf());
    const file = join(work, 'counter');
    const w = workload(state, `i=0; while :; do i=$((i+1)); echo $i > ${file}; ${BUSYBOX} sleep 0.05; done`);
    expect(await until(() => counter(file) > 3)).toBe(true);
    await freeze(state, true);
    expect(isFrozen(state)).toBe(true);
    expect(readCgroupFile(state.path, 'cgroup.events')).toMatch(/^frozen 1$/m);
    const frozenAt = counter(file);
    await sleep(700);
    expect(counter(file)).toBe(frozenAt);
    await freeze(state, false);
    expect(isFrozen(state)).toBe(false);
    expect(await until(() => counter(file) > frozenAt + 3)).toBe(true);
    killAll(state, 9);
    expect((await w.exited).signal).toBe('SIGKILL');
  });

  it('kills everything a process forked with cgroup.kill, then removes the cgroup (idempotently)', async () => {
    const state = track(await leaf());
    const w = workload(state, `${BUSYBOX} sleep 300 & ${BUSYBOX} sleep 300 & wait`);
    expect(await until(() => processesOf(state.path).length === 3)).toBe(true);
    expect(readEvents(state.path)).toEqual({ populated: true, frozen: false });
    killAll(state, 9);
    expect((await w.exited).signal).toBe('SIGKILL');
    expect(await until(() => !isPopulated(state))).toBe(true);
    expect(readCgroupFile(state.path, 'cgroup.events')).toMatch(/^populated 0$/m);
    await removeContainerCgroup(state);
    expect(readEvents(state.path)).toBeUndefined();
    await removeContainerCgroup(state);
  });

  it('sends other signals to every process of the cgroup, not only the first', async () => {
    const state = track(await leaf());
    const w = workload(state, `${BUSYBOX} sleep 300 & ${BUSYBOX} sleep 300 & wait`);
    expect(await until(() => processesOf(state.path).length === 3)).toBe(true);
    killAll(state, 15);
    expect((await w.exited).signal).toBe('SIGTERM');
    // The sleeps, orphaned by the shell, died of it too.
    expect(await until(() => !isPopulated(state))).toBe(true);
    await removeContainerCgroup(state);
  });

  it('kills what is left, frozen or not, when it removes a cgroup', async () => {
    const state = track(await leaf());
    const w = workload(state, `trap '' TERM; ${BUSYBOX} sleep 300 & ${BUSYBOX} sleep 300 & wait`);
    expect(await until(() => processesOf(state.path).length === 3)).toBe(true);
    await freeze(state, true);
    await removeContainerCgroup(state);
    expect((await w.exited).signal).toBe('SIGKILL');
    expect(readEvents(state.path)).toBeUndefined();
  });

  it('reads CPU time that moves, and no memory or pids numbers without those controllers', async () => {
    const state = track(await leaf());
    const w = workload(state, 'while :; do :; done');
    await sleep(300);
    const first = readStats(state);
    // 200 ms more of CPU time: as soon as the loop has had it (a loaded machine gives it less than all of a core).
    expect(await until(() => readStats(state).cpuUsageUsec > first.cpuUsageUsec + 200_000, 20_000)).toBe(true);
    const facts = readCgroupFacts();
    if (!facts.delegatedControllers.includes('memory')) expect(first.memoryCurrent).toBeNull();
    if (!facts.delegatedControllers.includes('pids')) expect(first.pidsCurrent).toBeNull();
    expect(oomKilled(state)).toBe(false);
    await removeContainerCgroup(state);
    expect((await w.exited).signal).toBe('SIGKILL');
  });

  it('moves every process out of a cgroup before making it a parent (the no-internal-processes rule)', async () => {
    // A cgroup of ours with processes in it, standing in for a delegation root that holds the user's shell.
    const root = join(readCgroupFacts().delegationRoot as string, `test-root-${process.pid}`);
    mkdirSync(root);
    const child = spawn(BUSYBOX, ['sleep', '300'], { stdio: 'ignore' });
    try {
      moveProcess(root, child.pid as number);
      expect(processesOf(root)).toEqual([child.pid]);
      leaveRoot(root);
      expect(processesOf(root)).toEqual([]);
      expect(processesOf(join(root, 'init'))).toEqual([child.pid]);
      const parent = prepareContainersParent({ root, available: [] }, []);
      expect(parent).toBe(join(root, 'hutch'));
      leaveRoot(root); // idempotent
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      await until(() => readEvents(root)?.populated !== true);
      for (const dir of ['hutch', 'init', '']) rmdirSync(join(root, dir));
    }
  });

  describe('through the session, as the hutch command runs', () => {
    let box: Sandbox;
    let bundle: string;

    beforeAll(() => {
      box = sandbox();
      bundle = runnerBundle('limits-runner');
    });
    afterAll(() => box?.dispose());

    it('freezes, kills and refuses the same from inside the user namespace', () => {
      const result = spawnSync(
        hutchBin,
        ['unshare', 'node', bundle, 'plain', 'refuse', 'pause', 'kill', 'remove', '--no-limits'],
        { env: box.env, encoding: 'utf8' },
      );
      expect(result.status, result.stderr).toBe(0);
      const runs = JSON.parse(result.stdout);
      expect(runs.plain).toMatchObject({ removed: true, events: { populated: false, frozen: false } });
      const facts = readCgroupFacts();
      if (!facts.delegatedControllers.includes('memory')) {
        expect(runs.refuse).toMatchObject({ exitCode: 125, error: expect.stringMatching(/^cannot enforce --memory/) });
      }
      expect(runs.pause).toMatchObject({ frozen: true, thawed: true });
      expect(runs.pause.whileFrozen).toBe(runs.pause.atFreeze);
      expect(runs.pause.after).toBeGreaterThan(runs.pause.whileFrozen);
      expect(runs.kill).toMatchObject({ procs: 3, populated: false, removed: true, exit: { signal: 'SIGKILL' } });
      expect(runs.remove).toMatchObject({ removed: true, exit: { signal: 'SIGKILL' } });
    });

    const root = () => readCgroupFacts().delegationRoot as string;
    const containerCgroups = () =>
      readdirSync(join(root(), 'hutch'), { withFileTypes: true })
        .filter((e) => e.isDirectory() && /^[0-9a-f]{64}$/.test(e.name))
        .map((e) => e.name);

    it('hutch run --memory: one line with the reason and the fix, exit 125, nothing left behind', async () => {
      ok(['import', await busyboxRootfsTar(), 'busybox'], box);
      const facts = readCgroupFacts();
      // This host binds memory to cgroup v1 (HOST.md); a host that delegates memory enforces it (the guest test).
      if (facts.delegatedControllers.includes('memory')) return;
      const before = containerCgroups();
      const refused = hutch(['run', '--rm', '--name', 'refused', '--memory', '32m', 'busybox', 'true'], box);
      expect(refused.status).toBe(125);
      expect(errorLines(refused.stderr)).toHaveLength(1);
      expect(refused.stderr).toMatch(/^Error: cannot enforce --memory \(cgroup v2 memory controller\): /m);
      expect(refused.stderr).toMatch(/^hint: /m);
      const created = hutch(['create', '--pids-limit', '20', 'busybox', 'true'], box);
      expect(created.status).toBe(125);
      expect(created.stderr).toMatch(/^Error: cannot enforce --pids-limit \(cgroup v2 pids controller\): /m);
      expect(ok(['ps', '-a', '-q'], box)).toBe('');
      // Others may come and go in the shared subtree meanwhile: none is new.
      expect(containerCgroups().filter((c) => !before.includes(c))).toEqual([]);
    });

    it('a container without limits gets a cgroup: exec joins it, pause, ps, inspect, stats, kill through cgroup.kill', async () => {
      ok(['import', await busyboxRootfsTar(), 'busybox'], box);
      const file = '/tmp/count';
      const loop = `i=0; while :; do i=$((i+1)); echo $i > ${file}; sleep 0.05; done`;
      const id = ok(['run', '-d', '--name', 'plain', 'busybox', 'sh', '-c', loop], box).trim();
      const inspect = () => JSON.parse(ok(['inspect', 'plain'], box))[0];
      const cgroup = inspect().State.CgroupPath as string;
      expect(cgroup).toBe(join(root(), 'hutch', id));
      expect(inspect().HostConfig).toMatchObject({ Memory: 0, NanoCpus: 0, PidsLimit: 0 });
      // The container's cgroup namespace is rooted at its own cgroup; exec's process joins that cgroup.
      expect(ok(['exec', 'plain', 'cat', '/proc/self/cgroup'], box)).toMatch(/^0::\/$/m);
      ok(['exec', '-d', 'plain', 'sh', '-c', 'sleep 300 & sleep 300'], box);
      expect(await until(() => processesOf(cgroup).length >= 4)).toBe(true);
      const count = () => Number(ok(['exec', 'plain', 'cat', file], box).trim());

      expect(ok(['pause', 'plain'], box)).toBe('plain\n');
      expect(readEvents(cgroup)).toEqual({ populated: true, frozen: true });
      expect(inspect().State).toMatchObject({ Status: 'paused', Paused: true, Running: true });
      // podman's ps lists running containers only: a paused one with -a.
      expect(ok(['ps', '-a'], box)).toMatch(/ Paused +plain\n/);
      expect(JSON.parse(ok(['ps', '-a', '--format', 'json'], box))[0].State).toBe('paused');
      const paused = hutch(['exec', 'plain', 'true'], box);
      expect(paused.status).toBe(125);
      expect(errorLines(paused.stderr)).toEqual(['Error: container plain is paused: container state improper']);
      const again = hutch(['pause', 'plain'], box);
      expect(again.status).toBe(125);
      expect(errorLines(again.stderr)).toEqual([
        `Error: ${id.slice(0, 12)} is already paused: container state improper`,
      ]);
      expect(ok(['unpause', 'plain'], box)).toBe('plain\n');
      const thawed = count();
      expect(await until(() => count() > thawed + 2)).toBe(true);

      const stats = JSON.parse(ok(['stats', '--no-stream', '--format', 'json', 'plain'], box));
      expect(stats[0]).toMatchObject({ id: id.slice(0, 12), name: 'plain' });
      expect(stats[0].raw.cpuTimeUsec).toBeGreaterThan(0);

      // SIGKILL through cgroup.kill: the exec'd sleeps and their parent go with the container.
      expect(ok(['kill', 'plain'], box)).toBe('plain\n');
      expect(await until(() => inspect().State.Status === 'exited')).toBe(true);
      expect(inspect().State).toMatchObject({ ExitCode: 137, OOMKilled: false, CgroupPath: '' });
      expect(await until(() => !existsSync(cgroup))).toBe(true);
      ok(['rm', 'plain'], box);
    });

    it('rm -f and stop of a paused container leave no cgroup and no process', async () => {
      ok(['import', await busyboxRootfsTar(), 'busybox'], box);
      const a = ok(['run', '-d', 'busybox', 'sh', '-c', 'sleep 300 & sleep 300'], box).trim();
      const b = ok(['run', '-d', 'busybox', 'sleep', '300'], box).trim();
      ok(['pause', a, b], box);
      ok(['rm', '-t', '0', '-f', a], box);
      expect(existsSync(join(root(), 'hutch', a))).toBe(false);
      ok(['stop', '-t', '1', b], box);
      expect(existsSync(join(root(), 'hutch', b))).toBe(false);
      expect(JSON.parse(ok(['inspect', b], box))[0].State).toMatchObject({ Status: 'exited', Paused: false });
      ok(['rm', b], box);
    });

    it('pause, stats and update refuse a container that is not running, with exit 125', async () => {
      ok(['import', await busyboxRootfsTar(), 'busybox'], box);
      ok(['create', '--name', 'idle', 'busybox', 'true'], box);
      for (const args of [
        ['pause', 'idle'],
        ['unpause', 'idle'],
        ['update', '--cpus', '1', 'idle'],
      ]) {
        const refused = hutch(args, box);
        expect(refused.status).toBe(125);
        expect(errorLines(refused.stderr)).toEqual([
          expect.stringMatching(
            /^Error: can only \w+ running containers\. [0-9a-f]{12} is in state created: container state improper$/,
          ),
        ]);
      }
      ok(['rm', 'idle'], box);
    });
  });
});
