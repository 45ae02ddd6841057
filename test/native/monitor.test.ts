// hutch-monitor for real: it clones plans without namespaces (no privilege
// needed), relays their output to the log and to attach clients, and records
// their exit. Runs as root and as an unprivileged user alike.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { AttachClient, addContainerStdio, readExitFile, startMonitor } from '../../src/run/monitor.js';
import { Plan, type PlanOp } from '../../src/host/plan.js';
import { repoRoot, requires } from '../helpers/requires.js';
import { bundleForNode } from '../helpers/bundle.js';
import { commandPlan, monitorOptions, SEARCH, TEST_ENV, until } from '../helpers/monitor.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'hutch-monitor-'));
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00$/;

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

const exitFile = (dir: string) => until('the exit file', () => readExitFile(dir));

/** The log as [timestamp, stream, tag, text] entries. */
function logEntries(path: string): [string, string, string, string][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = line.match(/^(\S+) (stdout|stderr) ([FP]) (.*)$/);
      if (!match) throw new Error(`not a k8s-file log line: ${JSON.stringify(line)}`);
      return [match[1], match[2], match[3], match[4]] as [string, string, string, string];
    });
}

/** The state letter of /proc/PID/stat (R, S, Z…): readable even for a process that is not dumpable. */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('hutch-monitor', () => {
  it('runs a container, logs both streams in k8s-file format, relays them and records the exit', async () => {
    const dir = scratch();
    const plan = commandPlan(['sh', '-c', 'echo out; echo err >&2; printf part; exit 3']);
    const started = await startMonitor(monitorOptions(dir, plan));
    expect(readFileSync(join(dir, 'monitor.pid'), 'utf8')).toBe(`${started.monitorPid}\n`);
    const client = await AttachClient.connect(dir);
    const out = collect(client.stdout);
    const err = collect(client.stderr);
    started.sync.go();
    await started.sync.done();

    expect(await client.exit).toEqual({ exitCode: 3, signal: null });
    expect(await out).toBe('out\npart');
    expect(await err).toBe('err\n');
    const exit = readExitFile(dir);
    expect(exit).toMatchObject({ exitCode: 3, signal: null });
    expect(exit?.finishedAt).toMatch(TIMESTAMP);

    const entries = logEntries(join(dir, 'ctr.log'));
    for (const [timestamp] of entries) expect(timestamp).toMatch(TIMESTAMP);
    expect(entries.map(([, stream, tag, text]) => `${stream} ${tag} ${text}`).sort()).toEqual([
      'stderr F err',
      'stdout F out',
      'stdout P part',
    ]);
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dir, 'attach'))).toBe(false);
  });

  it('relays stdin with --stdin and closes it on the EOF frame', async () => {
    const dir = scratch();
    const started = await startMonitor(monitorOptions(dir, commandPlan(['cat']), { stdin: true }));
    const client = await AttachClient.connect(dir);
    const out = collect(client.stdout);
    started.sync.go();
    client.write('hello\n');
    client.write(Buffer.from('second line\n'));
    client.endInput();
    expect(await client.exit).toEqual({ exitCode: 0, signal: null });
    expect(await out).toBe('hello\nsecond line\n');
    expect(readFileSync(join(dir, 'ctr.log'), 'utf8')).toMatch(/ stdout F second line\n/);
  });

  it('gives the container a terminal with --terminal and resizes it on a resize frame', async () => {
    const dir = scratch();
    const plan = commandPlan(['sh', '-c', 'tty; read line; stty size'], { terminal: true });
    const started = await startMonitor(monitorOptions(dir, plan, { terminal: true, stdin: true }));
    const client = await AttachClient.connect(dir);
    let seen = '';
    client.stdout.setEncoding('utf8');
    client.stdout.on('data', (chunk: string) => (seen += chunk));
    const err = collect(client.stderr);
    started.sync.go();
    await started.sync.done();
    await until('the tty line', () => (/\/dev\/pts\/\d+/.test(seen) ? true : undefined));
    client.resize(33, 77);
    client.write('\n');
    expect(await client.exit).toEqual({ exitCode: 0, signal: null });
    expect(seen).toMatch(/^\/dev\/pts\/\d+\r\n/);
    expect(seen).toMatch(/33 77\r\n$/);
    expect(await err).toBe(''); // a terminal has one stream: everything is stdout
  });

  it('outlives its parent with --detach: the container keeps running and the exit file appears later', async () => {
    const dir = scratch();
    // A node process that starts a detached monitor with this client and exits
    // on its own: nothing of the client may keep its event loop alive.
    const script = join(scratch(), 'start-detached.mjs');
    await bundleForNode(
      {
        code: `
          import { addContainerStdio, startMonitor } from '../../src/run/monitor.js';
          import { Plan } from '../../src/host/plan.js';
          const [dir, log] = process.argv.slice(2);
          const plan = addContainerStdio(new Plan().waitParent(), { terminal: false }).exec(
            'sh', ['sh', '-c', 'echo started; sleep 2; echo finished; exit 7'], ${JSON.stringify(TEST_ENV)}, '${SEARCH}');
          const started = await startMonitor({
            id: 'detached', dir, log, plan, cloneFlags: 0, terminal: false, stdin: false, detach: true,
          });
          started.sync.go();
          await started.sync.done();
          console.log(JSON.stringify({ monitorPid: started.monitorPid, containerPid: started.containerPid }));
        `,
        resolveDir: join(repoRoot, 'test/native'),
      },
      script,
    );
    const parent = spawnSync(process.execPath, [script, dir, join(dir, 'ctr.log')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(parent.stderr).toBe('');
    expect(parent.status).toBe(0);
    const { monitorPid, containerPid } = JSON.parse(parent.stdout) as { monitorPid: number; containerPid: number };

    expect(alive(monitorPid)).toBe(true);
    expect(alive(containerPid)).toBe(true);
    const stat = readFileSync(`/proc/${monitorPid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[1])).not.toBe(parent.pid); // ppid: reparented
    expect(Number(fields[3])).toBe(monitorPid); // session: its own
    // spawnSync returned: the monitor holds neither of the parent's pipes (it put /dev/null on 0-2).
    // Its fds are out of reach even for its own user: it is not dumpable.
    expect(() => readlinkSync(`/proc/${monitorPid}/fd/0`)).toThrow(expect.objectContaining({ code: 'EACCES' }));
    expect(readExitFile(dir)).toBeUndefined();

    expect(await exitFile(dir)).toMatchObject({ exitCode: 7, signal: null });
    const texts = logEntries(join(dir, 'ctr.log')).map(([, , , text]) => text);
    expect(texts).toEqual(['started', 'finished']);
  });

  it('runs from a sealed copy of itself, and neither it nor its child before execve can be inspected', async () => {
    const dir = scratch();
    const plan = new Plan().waitParent();
    addContainerStdio(plan, { terminal: false }).exec('sleep', ['sleep', '30'], TEST_ENV, SEARCH);
    const started = await startMonitor(monitorOptions(dir, plan));
    try {
      // The child runs its plan: nothing before its WaitParent step sleeps, so a sleeping child is there.
      await until('the child to block in WaitParent', () =>
        processState(started.containerPid) === 'S' ? true : undefined,
      );
      expect(readFileSync(`/proc/${started.monitorPid}/comm`, 'utf8')).toBe('hutch-monitor\n');
      for (const pid of [started.monitorPid, started.containerPid]) {
        for (const link of ['exe', 'cwd', 'root', 'fd/0']) {
          expect(() => readlinkSync(`/proc/${pid}/${link}`), `${pid} ${link}`).toThrow(
            expect.objectContaining({ code: 'EACCES' }),
          );
        }
        expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^TracerPid:\s+0$/m);
      }
      started.sync.go();
      await started.sync.done(); // EOF at execve: dumpable again, as any program
      expect(readlinkSync(`/proc/${started.containerPid}/exe`)).toMatch(/\/sleep$/);
    } finally {
      process.kill(started.containerPid, 'SIGKILL');
      await exitFile(dir);
    }
  });

  it('reports a failing plan step through the sync socket as a SyscallError, and exit 125', async () => {
    const dir = scratch();
    const started = await startMonitor(monitorOptions(dir, commandPlan(['/nonexistent/binary'])));
    const client = await AttachClient.connect(dir);
    started.sync.go();
    const error = await started.sync.done().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'execve', path: '/nonexistent/binary' });
    expect((error as Error).message).toBe("ENOENT: no such file or directory, execve '/nonexistent/binary'");
    expect(await client.exit).toEqual({ exitCode: 125, signal: null });
    expect(await exitFile(dir)).toMatchObject({ exitCode: 125, signal: null });
  });

  it('reports a failure of its own setup on the same sync socket, as the SyscallError of its call', async () => {
    const dir = join(scratch(), 'missing');
    const error = await startMonitor(monitorOptions(dir, commandPlan(['true']))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', path: dir });
  });

  it('refuses a malformed plan or clone flags before any clone, as a TypeError', async () => {
    const dir = scratch();
    const plan = new Plan().chdir('/');
    (plan.steps[0] as { op: PlanOp }).op = 999 as PlanOp;
    await expect(startMonitor(monitorOptions(dir, plan))).rejects.toThrow(
      new TypeError('invalid plan: step 0: unknown op 999'),
    );
    await expect(startMonitor(monitorOptions(dir, new Plan().exit(0), { cloneFlags: 0x100 }))).rejects.toThrow(
      /only namespace clone flags/,
    );
  });

  it('execs the exit command after the exit file is written, with no fd of its own leaked', async () => {
    const dir = scratch();
    const exitCommand = ['/bin/sh', '-c', 'cat "$0/exit" > "$0/marker"; exec ls -l /proc/self/fd > "$0/fds"', dir];
    const started = await startMonitor(monitorOptions(dir, commandPlan(['true']), { exitCommand }));
    started.sync.go();
    await started.sync.done();
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(readFileSync(join(dir, 'marker'), 'utf8')).toBe(readFileSync(join(dir, 'exit'), 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'marker'), 'utf8'))).toMatchObject({ exitCode: 0, signal: null });
    // ls -l /proc/self/fd: 0-2, and the directory ls itself is reading.
    const fds = [...readFileSync(join(dir, 'fds'), 'utf8').matchAll(/ (\d+) -> (.*)$/gm)];
    const extra = fds.filter(([, fd, target]) => Number(fd) > 2 && !/^\/proc\/\d+\/fd$/.test(target as string));
    expect(fds.length).toBeGreaterThanOrEqual(3);
    expect(extra).toEqual([]);
  });

  it('skips the exit command for a client that took the cleanup and did it, not for one that went away', async () => {
    const exitCommand = (dir: string) => ['/bin/sh', '-c', 'touch "$0/exit-command-ran"', dir];
    // Repeated: `true` exits before the monitor's loop may have read the take-cleanup frame.
    for (let round = 0; round < 10; round++) {
      const done = scratch();
      const started = await startMonitor(
        monitorOptions(done, commandPlan(['true']), { exitCommand: exitCommand(done) }),
      );
      const client = await AttachClient.connect(done);
      client.takeCleanup();
      started.sync.go();
      expect(await client.exit).toEqual({ exitCode: 0, signal: null });
      client.cleanupDone();
      expect(await started.exited).toEqual({ code: 0, signal: null });
      expect(existsSync(join(done, 'exit-command-ran')), `round ${round}`).toBe(false);
    }

    const gone = scratch();
    const started = await startMonitor(monitorOptions(gone, commandPlan(['true']), { exitCommand: exitCommand(gone) }));
    // A client killed after taking the cleanup: it hangs up once it has the exit frame.
    const raw = connect(join(gone, 'attach'));
    await new Promise((resolve) => raw.once('connect', resolve));
    raw.write(Buffer.from([6, 0, 0, 0, 0]));
    const exitFrame = new Promise<void>((resolve) => raw.on('data', (chunk: Buffer) => chunk.includes(3) && resolve()));
    started.sync.go();
    await exitFrame;
    raw.destroy();
    expect(await started.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(gone, 'exit-command-ran'))).toBe(true);
  });

  it('drops an attach client that stops reading, and keeps serving the others', async () => {
    const dir = scratch();
    const size = 3_000_000;
    // Paced (100 kB every 10 ms): a reading client must keep up, not win a race against the CPU scheduler.
    const plan = commandPlan([
      'sh',
      '-c',
      `for i in $(seq 30); do head -c ${size / 30} /dev/zero | tr '\\0' x; sleep 0.01; done`,
    ]);
    const started = await startMonitor(monitorOptions(dir, plan));
    const slow = connect(join(dir, 'attach'));
    await new Promise((resolve) => slow.once('connect', resolve));
    const fast = await AttachClient.connect(dir);
    const out = collect(fast.stdout);
    started.sync.go();
    expect(await fast.exit).toEqual({ exitCode: 0, signal: null });
    expect((await out).length).toBe(size);

    const chunks: Buffer[] = [];
    slow.on('data', (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => slow.once('close', resolve));
    const received = Buffer.concat(chunks);
    const types = new Set<number>();
    for (let at = 0; at + 5 <= received.length; at += 5 + received.readUInt32BE(at + 1)) {
      types.add(received.readUInt8(at));
    }
    expect(received.length).toBeLessThan(size);
    expect(types.has(3)).toBe(false); // never got the exit frame: dropped
  });

  it('stays small while it supervises a sleeping container (RSS printed)', async () => {
    const dir = scratch();
    const started = await startMonitor(monitorOptions(dir, commandPlan(['sleep', '30'])));
    const client = await AttachClient.connect(dir);
    started.sync.go();
    await started.sync.done();
    await new Promise((r) => setTimeout(r, 200));
    const status = readFileSync(`/proc/${started.monitorPid}/status`, 'utf8');
    const rss = status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1];
    console.log(`hutch-monitor VmRSS while supervising sleep: ${rss} kB (uid ${process.getuid?.()})`);
    expect(rss).toBeDefined();
    process.kill(started.containerPid, 'SIGKILL');
    expect(await client.exit).toEqual({ exitCode: null, signal: 9 });
    expect(await exitFile(dir)).toMatchObject({ exitCode: null, signal: 9 });
  });

  const need = requires('userns');
  it.skipIf(need.skip)("joins a running process's namespaces with --join before cloning", async () => {
    const target = spawn(
      'unshare',
      ['--user', '--map-root-user', '--uts', '--ipc', 'sh', '-c', 'hostname hutch-joined && exec sleep 30'],
      { stdio: 'ignore' },
    );
    try {
      const pid = target.pid as number;
      await until('the target to set its hostname', () =>
        existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/comm`, 'utf8') === 'sleep\n' ? true : undefined,
      );
      const dir = scratch();
      const plan = commandPlan(['sh', '-c', 'hostname; readlink /proc/self/ns/uts /proc/self/ns/ipc']);
      const started = await startMonitor(monitorOptions(dir, plan, { join: pid }));
      const client = await AttachClient.connect(dir);
      const out = collect(client.stdout);
      started.sync.go();
      expect(await client.exit).toEqual({ exitCode: 0, signal: null });
      expect((await out).split('\n')).toEqual([
        'hutch-joined',
        readlinkSync(`/proc/${pid}/ns/uts`),
        readlinkSync(`/proc/${pid}/ns/ipc`),
        '',
      ]);
    } finally {
      target.kill('SIGKILL');
    }
  });
});
