/**
 * hutch exec as the unprivileged user: the process joins the running
 * container (its root, processes, hostname, mounts, environment, working
 * directory and user), passes its exit status, gets a terminal and stdin when
 * asked; and each bad input has its one Error: line and podman's status.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

function capEff(status: string): bigint {
  return BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
}

describe.skipIf(need.skip)('hutch exec', () => {
  let box: Sandbox;
  let work: string;
  let id: string;
  const exec = (...args: string[]) => hutch(['exec', ...args], box);

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-exec-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    id = ok(
      [
        'run',
        '-d',
        '--name',
        'target',
        '--hostname',
        'exec-box',
        '-e',
        'FROM_RUN=yes',
        '-w',
        '/tmp',
        '-v',
        'execvol:/data',
        '--tmpfs',
        '/scratch',
        'busybox',
        'sh',
        '-c',
        'echo from-container > /data/mark; echo root-file > /in-root; exec sleep 1000',
      ],
      box,
    ).trim();
    // The command wrote its files before anything below looks for them.
    for (let i = 0; i < 100 && exec('target', 'test', '-f', '/in-root').status !== 0; i++) {
      spawnSync('sleep', ['0.05']);
    }
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose(work);
  });

  it('runs as the container’s user by default, as -u USER or UID otherwise', () => {
    expect(ok(['exec', 'target', 'id', '-u'], box)).toBe('0\n');
    expect(ok(['exec', '-u', '1000', 'target', 'id', '-u'], box)).toBe('1000\n');
    expect(ok(['exec', '-u', 'user', 'target', 'sh', '-c', 'id -un; echo $HOME'], box)).toBe('user\n/home/user\n');
    expect(ok(['exec', '-u', '1000:0', 'target', 'id', '-g'], box)).toBe('0\n');
    expect(fail(['exec', '-u', 'nosuch', 'target', 'true'], box, 126)).toMatch(/unable to find user nosuch/);
  });

  it('sees the container’s environment and its own -e and --env-file', () => {
    const env = ok(['exec', 'target', 'env'], box).split('\n');
    expect(env).toContain('FROM_RUN=yes');
    expect(env).toContain('HOSTNAME=exec-box');
    expect(env).toContain('HOME=/root');
    const file = join(work, 'env-file');
    writeFileSync(file, '# a comment\nFROM_FILE=1\n');
    const more = ok(['exec', '-e', 'EXTRA=2', '--env-file', file, '-e', 'FROM_RUN=overridden', 'target', 'env'], box);
    expect(more.split('\n')).toEqual(expect.arrayContaining(['EXTRA=2', 'FROM_FILE=1', 'FROM_RUN=overridden']));
  });

  it('starts in the container’s working directory, or in -w DIR', () => {
    expect(ok(['exec', 'target', 'pwd'], box)).toBe('/tmp\n');
    expect(ok(['exec', '-w', '/home/user', 'target', 'pwd'], box)).toBe('/home/user\n');
    expect(fail(['exec', '-w', '/nonexistent', 'target', 'pwd'], box, 127)).toMatch(/chdir to cwd \("\/nonexistent"\)/);
    expect(fail(['exec', '-w', 'relative', 'target', 'pwd'], box)).toMatch(/must be an absolute path/);
  });

  it('sees the container’s processes only: its pid 1 and itself', () => {
    const lines = ok(['exec', 'target', 'ps', '-o', 'pid,args'], box).trim().split('\n').slice(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\s*1 sleep 1000$/);
    expect(lines[1]).toMatch(/^\s*\d+ ps -o pid,args$/);
  });

  it('has the container’s root, hostname and mounts', () => {
    expect(ok(['exec', 'target', 'cat', '/in-root'], box)).toBe('root-file\n');
    expect(ok(['exec', 'target', 'cat', '/etc/passwd'], box)).toMatch(/^root:x:0:0:root:\/root:\/bin\/sh\nuser:x:1000/);
    expect(ok(['exec', 'target', 'hostname'], box)).toBe('exec-box\n');
    expect(ok(['exec', 'target', 'cat', '/data/mark'], box)).toBe('from-container\n');
    const mounts = ok(['exec', 'target', 'cat', '/proc/self/mounts'], box);
    expect(mounts).toMatch(/ \/data /);
    expect(mounts).toMatch(/^tmpfs \/scratch tmpfs /m);
    // The exec'd process writes where the container's process reads.
    ok(['exec', 'target', 'sh', '-c', 'echo from-exec > /scratch/x'], box);
    expect(ok(['exec', 'target', 'cat', '/scratch/x'], box)).toBe('from-exec\n');
  });

  it('shares the container’s namespaces, seen from the host', () => {
    const [info] = JSON.parse(ok(['ps', '--format', 'json'], box)) as { Pid: number }[];
    const pid = info?.Pid as number;
    const inside = ok(['exec', 'target', 'sh', '-c', 'for ns in pid mnt uts; do readlink /proc/$$/ns/$ns; done'], box);
    const outside = ['pid', 'mnt', 'uts'].map((ns) =>
      spawnSync('readlink', [`/proc/${pid}/ns/${ns}`]).stdout.toString(),
    );
    expect(inside).toBe(outside.join(''));
  });

  it('passes the exit status of the command; 127 when it is missing, 126 when it cannot run', () => {
    expect(exec('target', 'sh', '-c', 'exit 7').status).toBe(7);
    expect(fail(['exec', 'target', 'no-such-command'], box, 127)).toMatch(
      /executable file `no-such-command` not found in \$PATH/,
    );
    expect(fail(['exec', 'target', '/etc/passwd'], box, 126)).toMatch(/`\/etc\/passwd` cannot be executed/);
    const killed = exec('target', 'sh', '-c', 'kill -9 $$');
    expect(killed.status).toBe(137);
  });

  it('passes stdin with -i, and none without', () => {
    expect(hutch(['exec', '-i', 'target', 'cat'], { env: box.env, input: 'hello\n' }).stdout).toBe('hello\n');
    expect(hutch(['exec', 'target', 'cat'], { env: box.env, input: 'ignored\n' }).stdout).toBe('');
  });

  it('gives a terminal with -t, and our window size with -it', () => {
    expect(ok(['exec', '-t', 'target', 'tty'], box)).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    expect(ok(['exec', 'target', 'sh', '-c', 'tty || true'], box)).toBe('not a tty\n');
    // script(1) gives hutch a terminal of 30x100; the process asks its own after it settled.
    // The terminal's size reaches the exec'd process's pty as it starts: wait for it (2 s at most), then print it.
    const settle = 'i=0; until [ "$(stty size)" = "30 100" ] || [ $i -ge 200 ]; do sleep 0.01; i=$((i+1)); done';
    const command = `stty rows 30 cols 100; ${hutchBin} exec -it target sh -c '${settle}; stty size'`;
    const result = spawnSync('script', ['-qc', command, '/dev/null'], { env: box.env, encoding: 'utf8' });
    expect(result.stdout).toMatch(/30 100/);
  });

  it('--privileged gives the process every capability; the container keeps its own', () => {
    const plain = capEff(ok(['exec', 'target', 'cat', '/proc/self/status'], box));
    const privileged = capEff(ok(['exec', '--privileged', 'target', 'cat', '/proc/self/status'], box));
    expect(plain & (1n << 21n)).toBe(0n); // CAP_SYS_ADMIN
    expect(privileged & (1n << 21n)).toBe(1n << 21n);
    expect(capEff(ok(['exec', 'target', 'cat', '/proc/1/status'], box))).toBe(plain);
  });

  it('-d runs the process in the background and prints the session id', () => {
    const session = ok(['exec', '-d', 'target', 'sh', '-c', 'sleep 0.2; touch /tmp/detached'], box).trim();
    expect(session).toMatch(/^[0-9a-f]{64}$/);
    let found = false;
    for (let i = 0; i < 100 && !found; i++) {
      found = exec('target', 'test', '-e', '/tmp/detached').status === 0;
      if (!found) spawnSync('sleep', ['0.05']);
    }
    expect(found).toBe(true);
  });

  it('leaves no session directory behind after an attached exec', () => {
    ok(['exec', 'target', 'true'], box);
    exec('target', 'no-such-command');
    const sessions = join(box.runtime, 'containers', id, 'exec');
    const left = existsSync(sessions) ? readdirSync(sessions) : [];
    // Only detached sessions may remain (the -d one above, once ended, goes at the next exec).
    expect(left.length).toBeLessThanOrEqual(1);
  });

  it('refuses a container that is not running (125) and one that does not exist', () => {
    ok(['create', '--name', 'stopped', 'busybox', 'sleep', '1'], box);
    expect(fail(['exec', 'stopped', 'true'], box)).toBe(
      'Error: can only create exec sessions on running containers: container state improper',
    );
    expect(fail(['exec', 'nosuch', 'true'], box)).toBe(
      'Error: no container with name or ID "nosuch" found: no such container',
    );
    const exited = ok(['run', '-d', 'busybox', 'true'], box).trim();
    ok(['wait', exited], box);
    expect(fail(['exec', exited, 'true'], box)).toMatch(/can only create exec sessions on running containers/);
  });
});
