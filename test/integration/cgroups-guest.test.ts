/**
 * Resource limits enforced for real, in a user-mode-linux guest (this host's
 * cgroup v2 has no memory, pids or cpu controller): one boot runs every
 * scenario as the unprivileged test user in a subtree delegated to it, inside
 * hutch's session (`hutch unshare`), and the assertions read what came back.
 *
 * test/guest/limits-runner.ts drives src/run/cgroups as container start does;
 * test/guest/cli-runner.ts drives the hutch command line (run --memory,
 * inspect, stats, pause, update); a last job runs hutch from a cgroup that is
 * not delegated, as on a host without systemd's Delegate=.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootGuest, guestRequirement, type GuestRun } from '../guest/guest.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { errorLines } from '../helpers/hutch.js';
import { hutchBin, requires } from '../helpers/requires.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const guest = need.skip ? need : guestRequirement();

/* eslint-disable @typescript-eslint/no-explicit-any -- results are JSON from the guest */
type Json = any;

describe.skipIf(guest.skip)('resource limits in a user-mode-linux guest', () => {
  let work: string;
  let boot: GuestRun;
  let limits: Json;
  let flat: Json;
  let cli: Json;
  let undelegated: Record<string, string>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hutch-guest-bundles-'));
    const files: Record<string, Buffer | string> = {
      'limits-runner.mjs': readFileSync(runnerBundle('limits-runner')),
      'cli-runner.mjs': readFileSync(runnerBundle('cli-runner')),
    };
    const busybox = await busyboxRootfsTar();
    // Each job gets a session of its own on the guest's tmpfs (hostfs cannot take subordinate ids).
    // HUTCH_HINTS: the hint lines are asserted, and stderr is a file here, not a terminal.
    const session = `b=$(mktemp -d); export XDG_RUNTIME_DIR=$b XDG_DATA_HOME=$b/data HUTCH_HINTS=1`;
    const run = [
      'cd /run/guest',
      `(${session}; ${hutchBin} unshare node limits-runner.mjs refuse plain kill remove cpu io > limits.json 2> limits.err)`,
      `(${session}; node cli-runner.mjs ${hutchBin} ${busybox} > cli.json 2> cli.err)`,
    ].join('\n');
    // Each command's stderr and status into a file of its own: u-NAME.err, u-NAME.status.
    const undelegatedJob = [
      'cd /run/guest',
      session,
      `h() { name=$1; shift; ${hutchBin} "$@" > "u-$name.out" 2> "u-$name.err"; echo $? > "u-$name.status"; }`,
      `h import import ${busybox} busybox`,
      'h run run -d --name plain busybox sleep 300',
      'h pause pause plain',
      'h memory run --rm --memory 32m busybox true',
      'h info info',
      'h rm rm -f plain',
      'h ps ps -a -q',
    ].join('\n');
    boot = await bootGuest({
      run: `${run}\n`,
      flat: `cd /run/guest\n(${session}; ${hutchBin} unshare node limits-runner.mjs leave > flat.json 2> flat.err)\n`,
      undelegated: `${undelegatedJob}\n`,
      files,
      diskMiB: 64,
      timeoutMs: 900_000,
    });
    const read = (name: string) => {
      const text = readFileSync(join(boot.dir, name), 'utf8');
      try {
        return JSON.parse(text) as Json;
      } catch {
        throw new Error(
          `${name} is not JSON: ${text}\n${readFileSync(join(boot.dir, name.replace('.json', '.err')), 'utf8')}\n${boot.console}`,
        );
      }
    };
    limits = read('limits.json');
    flat = read('flat.json');
    cli = read('cli.json');
    undelegated = {};
    for (const name of ['import', 'run', 'pause', 'memory', 'info', 'rm', 'ps']) {
      for (const ext of ['out', 'err', 'status']) {
        undelegated[`${name}.${ext}`] = readFileSync(join(boot.dir, `u-${name}.${ext}`), 'utf8');
      }
    }
    const took = (results: Json) =>
      Object.entries(results as Record<string, { ms: number }>)
        .map(([name, r]) => `${name} ${(r.ms / 1000).toFixed(1)} s`)
        .join(', ');
    console.log(`guest: booted, ran and powered off in ${boot.seconds.toFixed(1)} s (${took(limits)}; ${took(flat)})`);
    if (process.env.HUTCH_GUEST_KEEP === '1') console.log(`guest: kept ${boot.dir}`);
  }, 960_000);

  afterAll(() => {
    if (process.env.HUTCH_GUEST_KEEP !== '1') boot?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const scenario = (name: string) => {
    const result = limits[name];
    expect(result?.error, `${name}: ${JSON.stringify(result)}`).toBeUndefined();
    return result;
  };

  it('makes a cgroup for a limit the subtree can enforce, and one without limits too', () => {
    expect(scenario('refuse')).toMatchObject({ memoryMax: String(32 * 1024 * 1024) });
    const plain = scenario('plain');
    expect(plain.path).toMatch(/\/hutch-test-\d+\.slice\/hutch\/test-plain-[0-9a-f]{8}$/);
    // No limit asked, none written: the kernel's default.
    expect(plain.pidsMax).toBe('max\n');
    expect(plain.events).toEqual({ populated: false, frozen: false });
    expect(plain.removed).toBe(true);
  });

  it('keeps a busy loop near half a CPU under --cpus 0.5 (cpu.stat usage over wall time)', () => {
    const cpu = scenario('cpu');
    expect(cpu.cpuMax).toBe('50000 100000');
    // Unlimited, the loop gets the guest's one CPU (less what the host takes away).
    expect(cpu.unlimited).toBeGreaterThan(0.7);
    // The quota caps guest time; should the host starve the guest below half a CPU, the bound follows the baseline.
    expect(cpu.limited).toBeGreaterThan(Math.min(0.4, cpu.unlimited * 0.45));
    expect(cpu.limited).toBeLessThan(0.56);
    expect(cpu.throttled).toBeGreaterThan(0);
  });

  it('kills a cgroup with everything it forked, and removes it (twice is fine)', () => {
    const kill = scenario('kill');
    expect(kill.procs).toBe(3);
    expect(kill.exit.signal).toBe('SIGKILL');
    expect(kill.populated).toBe(false);
    expect(kill.removed).toBe(true);
    expect(scenario('remove')).toMatchObject({ exit: { signal: 'SIGKILL' }, removed: true });
  });

  it('limits reads from a block device with --device-read-bps', () => {
    const { free, limited } = scenario('io');
    expect(free.exit.code).toBe(0);
    expect(limited.exit.code).toBe(0);
    expect(limited.ioMax).toMatch(/^\d+:\d+ rbps=1048576 wbps=max riops=max wiops=max$/);
    // 3 MiB at 1 MiB/s, the first second's budget spent at once: at least about two seconds.
    expect(limited.seconds).toBeGreaterThan(1.8);
    expect(limited.seconds).toBeGreaterThan(free.seconds * 2);
    expect(limited.ioStat).toMatch(/rbytes=3145728/);
  });

  const errorLine = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Error: '));

  /** inspect of the exited containers, by name. */
  const inspected = (name: string) => (cli.inspect as Json[]).find((c) => c.Name === name);

  it('hutch run --memory 32m: OOM-killed, exit 137, and inspect says OOMKilled', () => {
    expect(cli.oom.status, JSON.stringify(cli.steps)).toBe(137);
    expect(inspected('oom').State).toMatchObject({ Status: 'exited', OOMKilled: true, ExitCode: 137 });
    expect(inspected('oom').HostConfig).toMatchObject({ Memory: 32 * 1024 * 1024, MemorySwap: 64 * 1024 * 1024 });
  });

  it('hutch run --pids-limit 20: a fork loop is contained, and hutch stop stops it', () => {
    const pids = cli.pids;
    expect(pids.max).toBe('20');
    expect(pids.current).toBeLessThanOrEqual(20);
    expect(pids.current).toBeGreaterThanOrEqual(15);
    // The loop failed to fork and went on trying: contained, not dead.
    expect(pids.events).toMatch(/^max [1-9]/m);
    expect(pids.stop.status).toBe(0);
    expect(pids.gone).toBe(true);
    expect(inspected('forky').State).toMatchObject({ Status: 'exited', OOMKilled: false, ExitCode: 137 });
    expect(inspected('forky').HostConfig).toMatchObject({ PidsLimit: 20, NanoCpus: 200_000_000 });
  });

  it("without --pids-limit, podman's default of 2048 is the cgroup's pids.max, in containers and build steps alike", () => {
    const d = cli.defaultPids;
    expect(d.max, JSON.stringify(d)).toBe('2048');
    expect(d.stop.status).toBe(0);
    expect(d.gone).toBe(true);
    expect(inspected('dflt').HostConfig).toMatchObject({ PidsLimit: 2048 });
    expect(d.build.status, d.build.stderr).toBe(0);
    expect(d.buildPidsMax).toBe('2048\n');
    // --pids-limit 0 (or -1) lifts it.
    expect(cli.cpu.pidsMax).toBe('max\n');
  });

  it('hutch run --cpus 0.5 holds a busy loop near half a CPU, hutch update --cpus 0.2 lowers it', () => {
    // As above: should the host starve the guest below half a CPU, the bound follows the unlimited baseline.
    expect(cli.cpu.limited).toBeGreaterThan(Math.min(0.4, limits.cpu.unlimited * 0.45));
    expect(cli.cpu.limited).toBeLessThan(0.56);
    expect(cli.cpu.update.status, cli.cpu.update.stderr).toBe(0);
    expect(cli.cpu.update.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(cli.cpu.cpuMax).toBe('20000 100000\n');
    expect(cli.cpu.updated).toBeGreaterThan(Math.min(0.1, limits.cpu.unlimited * 0.09));
    expect(cli.cpu.updated).toBeLessThan(0.26);
    expect(cli.cpu.rm).toEqual({ status: 0, gone: true });
  });

  it('hutch stats shows the numbers moving', () => {
    const [first, second] = (cli.cpu.stats as Json[][]).map((rows) => rows[0]);
    expect(first).toMatchObject({ name: 'busy', pids: '1', net_io: '-- / --' });
    expect(first.mem_usage).toMatch(/^[\d.]+[kMG]?B \/ [\d.]+[kMG]?B$/);
    expect(second.raw.cpuTimeUsec).toBeGreaterThan(first.raw.cpuTimeUsec + 500_000);
    expect(second.raw.readAt).toBeGreaterThan(first.raw.readAt);
    expect(first.raw.memUsage).toBeGreaterThan(0);
    expect(second.raw.cpuThrottled).toBeGreaterThan(first.raw.cpuThrottled);
  });

  it('hutch pause freezes a counter, inspect and ps say paused, hutch unpause resumes it', () => {
    const p = cli.pause;
    expect(p.pause.status, p.pause.stderr).toBe(0);
    expect(p.atPause).toBeGreaterThan(0);
    expect(p.whilePaused).toBe(p.atPause);
    expect(p.inspectPaused[0].State).toMatchObject({ Paused: true, Status: 'paused' });
    expect(p.ps).toMatch(/ Paused +counter\n/);
    expect(p.execPaused.status).toBe(125);
    expect(errorLines(p.execPaused.stderr)).toEqual(['Error: container counter is paused: container state improper']);
    expect(p.unpause.status, p.unpause.stderr).toBe(0);
    expect(p.afterUnpause).toBeGreaterThan(p.whilePaused + 3);
    expect(p.kill.status).toBe(0);
    expect(inspected('counter').State).toMatchObject({ Status: 'exited', ExitCode: 137, Paused: false });
  });

  it("runs hutch exec in the container's cgroup, whose namespace shows it as the root", () => {
    expect(cli.pause.exec.status, cli.pause.exec.stderr).toBe(0);
    expect(cli.pause.exec.stdout).toBe('0::/\n');
  });

  it('gives a container without limits a cgroup of its own, and removes every cgroup with its container', () => {
    expect(cli.plain.cgroupEvents).toMatch(/^populated 1$/m);
    expect(cli.plain.pause.status, cli.plain.pause.stderr).toBe(0);
    expect(cli.plain.rm).toBe(0);
    expect(cli.leftCgroups).toEqual([]);
  });

  it('refuses what this kernel cannot enforce with one line and exit 125', () => {
    expect(cli.cpuset.status).toBe(125);
    expect(errorLine(cli.cpuset.stderr)).toEqual([
      'Error: cannot enforce --cpuset-cpus (cgroup v2 cpuset controller): this kernel has no cpuset controller (it offers cpu io memory pids)',
    ]);
  });

  it('without a delegated subtree: containers run without a cgroup, limits and pause are refused, info says why', () => {
    const u = undelegated;
    expect(u['run.status'], u['run.err']).toBe('0\n');
    expect(u['pause.status']).toBe('125\n');
    expect(errorLine(u['pause.err'] as string)).toEqual([
      expect.stringMatching(
        /^Error: cannot pause container plain: it has no cgroup of its own: \/sys\/fs\/cgroup\/hutch-none-\d+\.slice is not delegated to you \(its owner is uid \d+\)$/,
      ),
    ]);
    expect(u['pause.err']).toMatch(/^hint: systemd: give user@\.service Delegate=yes/m);
    expect(u['memory.status']).toBe('125\n');
    expect(errorLine(u['memory.err'] as string)).toEqual([
      expect.stringMatching(
        /^Error: cannot enforce --memory \(cgroup v2 memory controller\): no cgroup v2 subtree is delegated to you \(\/sys\/fs\/cgroup\/hutch-none-\d+\.slice belongs to uid \d+\)$/,
      ),
    ]);
    expect(u['info.out']).toMatch(
      /^ {2}containers: containers share your cgroup: no resource limits, no pause, no stats \(.* is not delegated to you/m,
    );
    expect(u['info.out']).toMatch(/^ {2}selected: none$/m);
    expect(u['rm.status']).toBe('0\n');
    // The refused run left no container behind.
    expect(u['ps.out']).toBe('');
  });

  it('moves itself and its neighbours out of the delegation root before handing controllers down', () => {
    const leave = flat.leave;
    expect(leave.error, JSON.stringify(leave)).toBeUndefined();
    expect(leave.before).toBe(leave.root.replace(/^\/sys\/fs\/cgroup/, ''));
    expect(leave.after).toBe(`${leave.before}/init`);
    expect(leave.rootProcs).toBe('');
    expect(leave.rootSubtree.split(' ')).toEqual(expect.arrayContaining(['pids']));
    expect(leave.pidsMax).toBe('10');
    expect(leave.path).toBe(`${leave.root}/hutch/${leave.path.split('/').at(-1)}`);
  });
});
