// hutch-monitor's log for real: rotation at --log-size-max with --log-max-files
// kept (native/monitor_io.cc), what a kill mid-rotation leaves, the failures it
// reports, no --log at all, and --stdio-fd (the passthrough driver). Plans run
// without namespaces: as root and as an unprivileged user alike.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogParser } from '../../src/run/container/logs.js';
import { AttachClient, monitorArgs, monitorPath, readExitFile, startMonitor } from '../../src/run/monitor.js';
import { Plan } from '../../src/host/plan.js';
import { commandPlan, monitorOptions, until } from '../helpers/monitor.js';
import { requires } from '../helpers/requires.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'hutch-monitor-log-'));
const ENTRY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00 (stdout|stderr) [FP] /;

/** A plan that runs sh -c SCRIPT with the monitor's stdio, held until go() when wait is set. */
const shPlan = (script: string, wait = true): Plan => commandPlan(['sh', '-c', script], { wait });

/** The log's files by name (ctr.log, ctr.log.1, …) with their sizes. */
function logSizes(dir: string, name = 'ctr.log'): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const entry of readdirSync(dir)) {
    if (entry === name || entry.startsWith(`${name}.`)) sizes[entry] = statSync(join(dir, entry)).size;
  }
  return sizes;
}

/** The stdout lines of the whole log, oldest file first (ctr.log.N … ctr.log.1, ctr.log), entries joined. */
function loggedLines(dir: string): string[] {
  const rotated = readdirSync(dir)
    .filter((name) => /^ctr\.log\.\d+$/.test(name))
    .sort((a, b) => Number(b.slice(8)) - Number(a.slice(8)));
  const parser = new LogParser();
  const lines: string[] = [];
  for (const name of [...rotated, 'ctr.log']) {
    if (!existsSync(join(dir, name))) continue;
    lines.push(...parser.feed(readFileSync(join(dir, name))).map((l) => l.text.toString()));
  }
  return lines;
}

/** Each file holds whole entries only. */
function expectWholeEntries(path: string): void {
  const text = readFileSync(path, 'utf8');
  if (text === '') return;
  expect(text.endsWith('\n'), path).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) expect(line, path).toMatch(ENTRY);
}

/** The monitor spawned by hand (not startMonitor), to see its stderr and give it other fds. */
async function runMonitor(
  args: string[],
  plan: Plan,
  extraFds: ('ignore' | number)[] = [],
  onStarted?: (pid: number) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(monitorPath(), args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...extraFds] });
  (child.stdio[3] as Writable).end(plan.encode());
  (child.stdio[4] as Readable).resume();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.startsWith('pid ') && stdout.includes('\n')) onStarted?.(Number(stdout.slice(4)));
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe('hutch-monitor log rotation', () => {
  it('rotates before --log-size-max, keeps --log-max-files files, and the newest lines read last', async () => {
    const dir = scratch();
    const plan = shPlan('seq 1 20000');
    const started = await startMonitor(monitorOptions(dir, plan, { logRotation: { maxSize: 8192, maxFiles: 3 } }));
    const client = await AttachClient.connect(dir);
    let relayed = '';
    client.stdout.on('data', (d: Buffer) => (relayed += d.toString()));
    started.sync.go();
    expect(await client.exit).toEqual({ exitCode: 0, signal: null });
    await started.exited;

    const sizes = logSizes(dir);
    expect(Object.keys(sizes).sort()).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.2']);
    for (const [name, size] of Object.entries(sizes)) {
      expect(size, name).toBeLessThanOrEqual(8192);
      expectWholeEntries(join(dir, name));
    }
    // The rotated files are full: each was rotated only when the next entry did not fit.
    expect(sizes['ctr.log.1']).toBeGreaterThan(8192 - 200);
    const lines = loggedLines(dir);
    const first = Number(lines[0]);
    expect(lines).toEqual(Array.from({ length: 20000 - first + 1 }, (_, i) => String(first + i)));
    expect(lines.length).toBeGreaterThan(200);
    // Clients get everything: rotation bounds the disk, not the relay.
    expect(relayed.split('\n').length).toBe(20001);
  });

  it('keeps one file with --log-max-files 1 (podman’s conmon) and gives an oversized entry a file of its own', async () => {
    const dir = scratch();
    // Reads of up to 8 KiB without a newline: each is one P entry larger than the limit.
    const plan = shPlan("head -c 100000 /dev/zero | tr '\\0' x; echo; echo last");
    const started = await startMonitor(monitorOptions(dir, plan, { logRotation: { maxSize: 1000, maxFiles: 1 } }));
    started.sync.go();
    await started.sync.done();
    await until('the exit file', () => readExitFile(dir));
    expect(Object.keys(logSizes(dir))).toEqual(['ctr.log']);
    const text = readFileSync(join(dir, 'ctr.log'), 'utf8');
    expectWholeEntries(join(dir, 'ctr.log'));
    expect(text.endsWith(' stdout F last\n')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(8192 + 50);
  });

  it('loses no file to a kill mid-rotation: what is on disk reads back whole and in order', async () => {
    for (const delay of [60, 150, 300]) {
      const dir = scratch();
      const started = await startMonitor(
        monitorOptions(dir, shPlan('seq 1 10000000'), { logRotation: { maxSize: 4096, maxFiles: 4 } }),
      );
      started.sync.go();
      await new Promise((r) => setTimeout(r, delay));
      process.kill(started.monitorPid, 'SIGKILL');
      process.kill(started.containerPid, 'SIGKILL');
      await started.exited;

      const sizes = logSizes(dir);
      // It rotated before the kill: some of ctr.log.1-3 exist.
      expect(Object.keys(sizes).filter((n) => /^ctr\.log\.[1-3]$/.test(n)).length, `${delay} ms`).toBeGreaterThan(0);
      for (const [name, size] of Object.entries(sizes)) {
        // ctr.log.tmp may be left, empty; nothing else but the kept files.
        expect(name, `${delay} ms`).toMatch(/^ctr\.log(\.[1-3]|\.tmp)?$/);
        expect(size, name).toBeLessThanOrEqual(name === 'ctr.log.tmp' ? 0 : 4096);
      }
      const lines = loggedLines(dir);
      const first = Number(lines[0]);
      expect(lines.length, `${delay} ms`).toBeGreaterThan(50);
      expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => String(first + i)));
    }
  });

  it('writes nothing without --log, and still relays the output', async () => {
    const dir = scratch();
    const started = await startMonitor(monitorOptions(dir, shPlan('echo out; echo err >&2'), { log: undefined }));
    const client = await AttachClient.connect(dir);
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    started.sync.go();
    expect(await client.exit).toEqual({ exitCode: 0, signal: null });
    expect(out).toBe('out\n');
    await started.exited;
    expect(readdirSync(dir).sort()).toEqual(['exit', 'monitor.pid']);
  });

  it('reports a rename that fails with syscall, paths and errno text, and the bound still holds', async () => {
    const dir = scratch();
    // ctr.log.1 is a directory with a file in it: renaming ctr.log over it fails.
    mkdirSync(join(dir, 'ctr.log.1'));
    writeFileSync(join(dir, 'ctr.log.1', 'keep'), '');
    const args = monitorArgs(
      monitorOptions(dir, new Plan(), { id: 'rename-fails', logRotation: { maxSize: 4096, maxFiles: 2 } }),
    );
    const result = await runMonitor(args, shPlan('seq 1 5000', false));
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `hutch-monitor: rename ${dir}/ctr.log ${dir}/ctr.log.1: Is a directory (further log errors are not reported)\n`,
    );
    expect(statSync(join(dir, 'ctr.log')).size).toBeLessThanOrEqual(4096);
    expect(readFileSync(join(dir, 'ctr.log'), 'utf8').endsWith(' stdout F 5000\n')).toBe(true);
  });

  const unprivileged = requires('unprivileged');
  it.skipIf(unprivileged.skip)(
    'truncates the log when it cannot make the next file (reported), so the bound holds',
    async () => {
      const dir = scratch();
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      const args = monitorArgs(
        monitorOptions(dir, new Plan(), {
          id: 'open-fails',
          log: join(logs, 'ctr.log'),
          logRotation: { maxSize: 4096, maxFiles: 3 },
        }),
      );
      try {
        // The log is open once the monitor reports the pid; the container writes only later.
        const result = await runMonitor(args, shPlan('sleep 0.3; seq 1 5000', false), [], () => chmodSync(logs, 0o555));
        expect(result.code).toBe(0);
        expect(result.stderr).toBe(
          `hutch-monitor: open ${logs}/ctr.log.tmp: Permission denied (further log errors are not reported)\n`,
        );
      } finally {
        chmodSync(logs, 0o755);
      }
      expect(readdirSync(logs)).toEqual(['ctr.log']);
      expect(statSync(join(logs, 'ctr.log')).size).toBeLessThanOrEqual(4096);
      expect(readFileSync(join(logs, 'ctr.log'), 'utf8').endsWith(' stdout F 5000\n')).toBe(true);
    },
  );

  it('gives the container the fds of --stdio-fd as its stdio (passthrough), unlogged and unrelayed', async () => {
    const dir = scratch();
    const input = join(dir, 'in');
    writeFileSync(input, 'from stdin\n');
    const fds = [openSync(input, 'r'), openSync(join(dir, 'out'), 'w'), openSync(join(dir, 'err'), 'w')];
    try {
      const args = monitorArgs(monitorOptions(dir, new Plan(), { log: undefined, passthrough: true }));
      const result = await runMonitor(args, shPlan('cat; echo out; echo err >&2; ls /proc/self/fd', false), [
        'ignore',
        ...fds,
      ]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    // 0-2 and ls's own directory: nothing of the monitor leaked.
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('from stdin\nout\n0\n1\n2\n3\n');
    expect(readFileSync(join(dir, 'err'), 'utf8')).toBe('err\n');
    expect(existsSync(join(dir, 'ctr.log'))).toBe(false);
  });

  it('refuses log options that do not fit together, before anything runs', () => {
    const run = (...extra: string[]) =>
      spawnSync(monitorPath(), ['--id', 'x', '--dir', '/', '--plan-fd', '3', '--sync-fd', '4', ...extra], {
        encoding: 'utf8',
      });
    const cases: [string[], string][] = [
      [['--log-size-max', '100'], '--log-size-max and --log-max-files need --log'],
      [['--log', '/tmp/x', '--log-max-files', '0'], 'bad number for: --log-max-files'],
      [['--log', '/tmp/x', '--log-max-files', '1001'], 'bad number for: --log-max-files'],
      [['--log', '/tmp/x', '--log-size-max', '-1'], 'bad number for: --log-size-max'],
      [['--stdio-fd', '5'], 'bad number for: --stdio-fd'],
      [['--stdio-fd', '6', '--terminal'], '--stdio-fd excludes --terminal and --stdin'],
    ];
    for (const [extra, message] of cases) {
      const result = run(...extra);
      expect(result.status, extra.join(' ')).toBe(125);
      expect(result.stderr.split('\n')[0]).toBe(`hutch-monitor: ${message}`);
    }
  });
});
