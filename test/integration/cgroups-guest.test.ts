/**
 * Resource limits enforced for real, in a user-mode-linux guest (this host's
 * cgroup v2 has no memory, pids or cpu controller): one boot runs every
 * scenario as the unprivileged test user in a subtree delegated to it, inside
 * hutch's session (`hutch unshare`), and the assertions read what came back.
 *
 * test/guest/limits-runner.ts drives src/run/cgroups as container start does;
 * test/guest/cli-runner.ts drives the hutch command line (run --memory,
 * inspect, stats, pause, update) once `hutch run` has the limit flags.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootGuest, guestRequirement, type GuestRun } from '../guest/guest.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, repoRoot, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const guest = need.skip ? need : guestRequirement();

/** Whether `hutch run` takes the limit flags yet (the CLI half of this suite waits for them). */
function cliHasLimits(): boolean {
  const help = spawnSync(hutchBin, ['run', '--help'], { encoding: 'utf8' });
  return /--memory </.test(help.stdout) && /--pids-limit </.test(help.stdout);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- results are JSON from the guest */
type Json = any;

describe.skipIf(guest.skip)('resource limits in a user-mode-linux guest', () => {
  let work: string;
  let boot: GuestRun;
  let limits: Json;
  let flat: Json;
  let cli: Json;
  const wired = guest.skip ? false : cliHasLimits();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hutch-guest-bundles-'));
    const bundle = async (entry: string, name: string) => {
      await build({
        absWorkingDir: repoRoot,
        entryPoints: [entry],
        outfile: join(work, name),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        // src/package.ts finds the package root (and with it the addon) from its own URL.
        define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(repoRoot, 'src', 'package.ts')).href) },
        logLevel: 'warning',
      });
      return readFileSync(join(work, name));
    };
    const files: Record<string, Buffer | string> = {
      'limits-runner.mjs': await bundle('test/guest/limits-runner.ts', 'limits-runner.mjs'),
    };
    // Each job gets a session of its own on the guest's tmpfs (hostfs cannot take subordinate ids).
    const session = `b=$(mktemp -d); export XDG_RUNTIME_DIR=$b XDG_DATA_HOME=$b/data`;
    let run = [
      'cd /run/guest',
      `(${session}; ${hutchBin} unshare node limits-runner.mjs refuse none pause kill remove oom pids cpu update stats io > limits.json 2> limits.err)`,
    ].join('\n');
    if (wired) {
      files['cli-runner.mjs'] = await bundle('test/guest/cli-runner.ts', 'cli-runner.mjs');
      run += `\n(${session}; node cli-runner.mjs ${hutchBin} ${await busyboxRootfsTar()} > cli.json 2> cli.err)`;
    } else {
      console.warn('skipping the command line scenarios: hutch run has no --memory/--pids-limit yet');
    }
    boot = await bootGuest({
      run: `${run}\n`,
      flat: `cd /run/guest\n(${session}; ${hutchBin} unshare node limits-runner.mjs leave > flat.json 2> flat.err)\n`,
      files,
      diskMiB: 64,
      timeoutMs: 420_000,
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
    if (wired) cli = read('cli.json');
    const took = (results: Json) =>
      Object.entries(results as Record<string, { ms: number }>)
        .map(([name, r]) => `${name} ${(r.ms / 1000).toFixed(1)} s`)
        .join(', ');
    console.log(`guest: booted, ran and powered off in ${boot.seconds.toFixed(1)} s (${took(limits)}; ${took(flat)})`);
    if (process.env.HUTCH_GUEST_KEEP === '1') console.log(`guest: kept ${boot.dir}`);
  }, 480_000);

  afterAll(() => {
    if (process.env.HUTCH_GUEST_KEEP !== '1') boot?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const scenario = (name: string) => {
    const result = limits[name];
    expect(result?.error, `${name}: ${JSON.stringify(result)}`).toBeUndefined();
    return result;
  };

  it('makes a cgroup for a limit the subtree can enforce, and none without limits', () => {
    expect(scenario('refuse')).toMatchObject({ memoryMax: String(32 * 1024 * 1024) });
    expect(scenario('none').state).toBeNull();
  });

  it('OOM-kills a process that allocates 100 MB under --memory 32m, and memory.events says so', () => {
    const oom = scenario('oom');
    expect(oom.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(oom.oomKilled).toBe(true);
    expect(oom.memoryMax).toBe('33554432');
    expect(oom.events).toMatch(/^oom_kill [1-9]/m);
  });

  it('contains a fork loop under --pids-limit 20, and it stays stoppable', () => {
    const pids = scenario('pids');
    expect(pids.pidsMax).toBe(20);
    expect(pids.pidsCurrent).toBeLessThanOrEqual(20);
    expect(pids.pidsCurrent).toBeGreaterThanOrEqual(15);
    // The loop failed to fork many times and is still trying: contained, not dead.
    expect(pids.events).toMatch(/^max [1-9]/m);
    expect(pids.loopAlive).toBe(true);
    expect(pids.exit.signal).toBe('SIGKILL');
    expect(pids.populated).toBe(false);
    expect(pids.stoppedMs).toBeLessThan(5000);
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

  it('freezes a counter on pause and lets it go on unpause', () => {
    const pause = scenario('pause');
    expect(pause.frozen).toBe(true);
    expect(pause.before).toBeGreaterThan(0);
    expect(pause.whileFrozen).toBe(pause.atFreeze);
    expect(pause.thawed).toBe(true);
    expect(pause.after).toBeGreaterThan(pause.whileFrozen + 3);
  });

  it('kills a cgroup with everything it forked, and removes it (twice is fine)', () => {
    const kill = scenario('kill');
    expect(kill.procs).toBe(3);
    expect(kill.exit.signal).toBe('SIGKILL');
    expect(kill.populated).toBe(false);
    expect(kill.removed).toBe(true);
    expect(scenario('remove')).toMatchObject({ exit: { signal: 'SIGKILL' }, removed: true });
  });

  it('changes the limits of a running workload (hutch update)', () => {
    const update = scenario('update');
    expect(update.cpuMax).toBe('20000 100000');
    expect(update.pidsMax).toBe('30');
    expect(update.limits).toEqual({ cpus: 0.2, pidsLimit: 30 });
    expect(update.before).toBeGreaterThan(0.6);
    expect(update.after).toBeLessThan(0.26);
    expect(update.after).toBeGreaterThan(0.1);
  });

  it('reads statistics that move: CPU time, memory, processes', () => {
    const { first, second } = scenario('stats');
    expect(second.cpuUsageUsec).toBeGreaterThan(first.cpuUsageUsec);
    expect(first.memoryCurrent).toBeGreaterThan(0);
    expect(first.memoryMax).toBe(64 * 1024 * 1024);
    expect(first.pidsCurrent).toBeGreaterThanOrEqual(1);
    expect(first.pidsMax).toBe(100);
    expect(second.readAt).toBeGreaterThan(first.readAt);
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

  it.skipIf(!wired)('hutch run --memory 32m: OOM-killed, exit 137, and inspect says OOMKilled', () => {
    expect(cli.oom.status, JSON.stringify(cli.steps)).toBe(137);
    expect(cli.oom.inspect[0].State).toMatchObject({ Status: 'exited', OOMKilled: true, ExitCode: 137 });
  });

  it.skipIf(!wired)('hutch run --pids-limit 20: a fork loop is contained, and hutch stop stops it', () => {
    expect(cli.pids.reading.pidsLimit).toBe(20);
    expect(cli.pids.reading.pids).toBeLessThanOrEqual(20);
    expect(cli.pids.reading.pids).toBeGreaterThanOrEqual(15);
    expect(cli.pids.stop.status).toBe(0);
    // SIGTERM is ignored by a shell as pid 1: SIGKILL after the 1 s timeout, then cleanup.
    expect(cli.pids.stop.ms).toBeLessThan(10_000);
    expect(cli.pids.inspect[0].State).toMatchObject({ Status: 'exited', OOMKilled: false });
  });

  it.skipIf(!wired)('hutch run --cpus 0.5 holds a busy loop near half a CPU, hutch update --cpus 0.2 lowers it', () => {
    expect(cli.cpu.limited).toBeGreaterThan(0.4);
    expect(cli.cpu.limited).toBeLessThan(0.56);
    expect(cli.cpu.update.status, cli.cpu.update.stderr).toBe(0);
    expect(cli.cpu.update.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(cli.cpu.updated).toBeGreaterThan(0.1);
    expect(cli.cpu.updated).toBeLessThan(0.26);
    expect(cli.cpu.rm.status).toBe(0);
  });

  it.skipIf(!wired)('hutch stats shows the numbers moving', () => {
    expect(cli.cpu.second.cpuTimeUsec).toBeGreaterThan(cli.cpu.first.cpuTimeUsec + 1_000_000);
    expect(cli.cpu.first.memUsage).toBeGreaterThan(0);
    expect(cli.cpu.first.pids).toBeGreaterThanOrEqual(1);
    const [header, row] = (cli.pause.table as string).split('\n');
    expect(header).toMatch(/^ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET IO +BLOCK IO +PIDS +CPU TIME +AVG CPU %$/);
    expect(row).toMatch(
      /^[0-9a-f]{12} +counter +\d+\.\d\d% +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +[\d.]+% +-- \/ -- +.* +[1-9]\d* +/,
    );
  });

  it.skipIf(!wired)('hutch pause freezes a counter, inspect says Paused, hutch unpause resumes it', () => {
    const p = cli.pause;
    expect(p.pause.status, p.pause.stderr).toBe(0);
    expect(p.atPause).toBeGreaterThan(0);
    expect(p.whilePaused).toBe(p.atPause);
    expect(p.inspectPaused[0].State.Paused).toBe(true);
    expect(p.unpause.status, p.unpause.stderr).toBe(0);
    expect(p.afterUnpause).toBeGreaterThan(p.whilePaused + 3);
    expect(p.kill.status).toBe(0);
    expect(p.inspectAfter[0].State.Status).toBe('exited');
  });

  it.skipIf(!wired)('refuses what it cannot enforce, and pause without a cgroup, with one line and exit 125', () => {
    expect(cli.cpuset.status).toBe(125);
    expect(errorLine(cli.cpuset.stderr)).toEqual([
      'Error: cannot enforce --cpuset-cpus (cgroup v2 cpuset controller): this kernel has no cpuset controller (it offers cpu io memory pids)',
    ]);
    expect(cli.plain.status).toBe(125);
    expect(errorLine(cli.plain.stderr)).toEqual([
      'Error: cannot pause container plain: it has no cgroup of its own (it was started without resource limits)',
    ]);
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
