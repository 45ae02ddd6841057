// hutch-monitor's timers for real: --timeout (podman's run --timeout: SIGKILL,
// exit code -1), --periodic-ms (the healthcheck: a command every period, one
// at a time, only while the container runs), and the fds --preserve-fds hands
// through it. Plans run without namespaces: as root and as an unprivileged
// user alike.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { PlanSync } from '../../src/host/plan-child.js';
import { Plan } from '../../src/host/plan.js';
import { addContainerStdio, monitorArgs, monitorPath, readExitFile, startMonitor } from '../../src/run/monitor.js';
import { commandPlan, monitorOptions, SEARCH, TEST_ENV, until } from '../helpers/monitor.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'hutch-monitor-timers-'));
const exitFile = (dir: string) => until('the exit file', () => readExitFile(dir));

/** The start and end times (ms) of each run of the periodic command, as it logged them. */
function runsOf(path: string): { start: number; end: number }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [start, end] = line.split(' ').map((n) => Number(n) / 1e6);
      return { start: start as number, end: end as number };
    });
}

describe('hutch-monitor timers', () => {
  it('kills the container at --timeout and records exit code -1, as conmon does', async () => {
    const dir = scratch();
    const began = Date.now();
    const started = await startMonitor(monitorOptions(dir, commandPlan(['sleep', '30']), { timeoutSeconds: 1 }));
    started.sync.go();
    await started.sync.done();
    const exit = await exitFile(dir);
    expect(exit).toMatchObject({ exitCode: -1, signal: null });
    const took = Date.now() - began;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(10_000);
  });

  it('runs the periodic command every period after the last one ended, one at a time, only while the container runs', async () => {
    const dir = scratch();
    const runs = join(dir, 'runs');
    // Each run takes 300 ms and logs when it started and ended (ns).
    const command = ['/bin/sh', '-c', 's=$(date +%s%N); sleep 0.3; echo "$s $(date +%s%N)" >> "$0"', runs];
    const started = await startMonitor(
      monitorOptions(dir, commandPlan(['sleep', '2']), { periodic: { everyMs: 200, command } }),
    );
    started.sync.go();
    await started.sync.done();
    await exitFile(dir);
    await started.exited;
    // A run under way when the container exits finishes on its own: wait for it, then for none more.
    await new Promise((r) => setTimeout(r, 600));
    const seen = runsOf(runs);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < seen.length; i++) {
      const gap = (seen[i] as { start: number }).start - (seen[i - 1] as { end: number }).end;
      expect(gap, 'a run starts a period after the last one ended').toBeGreaterThanOrEqual(150);
    }
    await new Promise((r) => setTimeout(r, 800));
    expect(runsOf(runs)).toHaveLength(seen.length);
  });

  it('leaves the fds of --preserve-fds for the plan to hand on as the container’s 3…', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'handed'), 'handed on\n');
    const file = openSync(join(dir, 'handed'), 'r');
    // The monitor gets the file as its fd 6 (PRESERVED_FD); the plan puts it on the container's 3.
    const plan = addContainerStdio(new Plan().waitParent(), { terminal: false, preserveFds: 1 }).exec(
      'sh',
      ['sh', '-c', `cat <&3 > "${dir}/read"; ls /proc/self/fd > "${dir}/fds"`],
      TEST_ENV,
      SEARCH,
    );
    const args = monitorArgs(monitorOptions(dir, plan, { preserveFds: 1 }));
    const { parentFd, childFd } = native.syncSocketpair();
    const child = spawn(monitorPath(), args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', childFd, 'ignore', file],
    });
    closeSync(childFd);
    closeSync(file);
    (child.stdio[3] as Writable).end(plan.encode());
    child.stdout?.resume();
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const sync = new PlanSync(plan, parentFd);
    await sync.started();
    sync.go();
    await sync.done();
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(stderr).toBe('');
    expect(readFileSync(join(dir, 'read'), 'utf8')).toBe('handed on\n');
    // 0-2, the handed fd, and ls's own directory: nothing of the monitor's.
    expect(readFileSync(join(dir, 'fds'), 'utf8')).toBe('0\n1\n2\n3\n4\n');
  });

  it('refuses timer arguments that do not fit, before anything runs', () => {
    const run = (...extra: string[]) =>
      spawnSync(monitorPath(), ['--id', 'x', '--dir', '/', '--plan-fd', '3', '--sync-fd', '4', ...extra], {
        encoding: 'utf8',
      });
    const cases: [string[], string][] = [
      [['--timeout', '0'], 'bad number for: --timeout'],
      [['--periodic-ms', '100'], '--periodic-ms and --periodic-arg go together'],
      [['--periodic-arg', '/bin/true'], '--periodic-ms and --periodic-arg go together'],
      [['--periodic-ms', '100', '--periodic-arg', 'true'], 'the periodic command must be an absolute path'],
    ];
    for (const [extra, message] of cases) {
      const result = run(...extra);
      expect(result.status, extra.join(' ')).toBe(125);
      expect(result.stderr.split('\n')[0]).toBe(`hutch-monitor: ${message}`);
    }
    expect(() =>
      monitorArgs(monitorOptions('/', new Plan(), { periodic: { everyMs: 100, command: ['true'] } })),
    ).toThrow('the periodic command must be an absolute path: true');
  });
});
