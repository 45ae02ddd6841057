/**
 * hutch run as the unprivileged user: every isolation property asserted from
 * inside the container (and from the host where it shows there), the flags
 * with podman's meaning, the image config honoured, and each bad input with
 * its one line and exit status.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, ok, sandbox, sessionPid, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires, subidRanges } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** CapEff etc. of /proc/self/status inside a container, as bigints. */
function caps(status: string): Record<string, bigint> {
  const result: Record<string, bigint> = {};
  for (const match of status.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm))
    result[match[1] as string] = BigInt(`0x${match[2]}`);
  return result;
}

const PODMAN_DEFAULT_CAPS = 0x800405fbn;

describe.skipIf(need.skip)('hutch run', () => {
  let box: Sandbox;
  let work: string;
  const run = (...args: string[]) => hutch(['run', '--rm', ...args], box);

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-run-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    ok(
      [
        'import',
        '--change',
        'ENV GREETING=hello',
        '--change',
        'WORKDIR /tmp',
        '--change',
        'USER 1000',
        '--change',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        '--change',
        'CMD ["echo $GREETING from $(pwd) as $(id -u)"]',
        '--change',
        'STOPSIGNAL SIGUSR1',
        await busyboxRootfsTar(),
        'configured',
      ],
      box,
    );
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose(work);
  });

  it('runs a command and passes its exit status, leaving nothing behind with --rm', () => {
    const result = run('busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(result.stdout).toBe('out\n');
    expect(result.stderr).toBe('err\n');
    expect(result.status).toBe(3);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
  });

  it('exits 127 for a command not found, 126 for one that cannot run, 125 for an unknown image', () => {
    const missing = run('busybox', 'no-such-command');
    expect(missing.status).toBe(127);
    expect(errorLines(missing.stderr)).toHaveLength(1);
    expect(missing.stderr).toMatch(/executable file `no-such-command` not found in \$PATH/);
    const notExecutable = run('busybox', '/etc/passwd');
    expect(notExecutable.status).toBe(126);
    expect(fail(['run', '--rm', '--pull=never', 'no/such/image'], box)).toMatch(/image not known/);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
  });

  it('has its own pid namespace: the command is pid 1 and sees only its own processes', () => {
    const ps = run('busybox', 'ps', '-o', 'pid,comm');
    expect(ps.stdout.trim().split('\n').slice(1)).toEqual(['    1 ps']);
    const procs = run('busybox', 'sh', '-c', 'ls -d /proc/[0-9]* | wc -l');
    expect(Number(procs.stdout.trim())).toBeLessThanOrEqual(3);
  });

  it('from the host: a process with a host pid, in namespaces of its own, running as the mapped uid', () => {
    const id = ok(['run', '-d', '-u', '1000', 'busybox', 'sleep', '60'], box).trim();
    try {
      const [info] = JSON.parse(ok(['ps', '--format', 'json'], box)) as { Id: string; Pid: number }[];
      expect(info?.Id).toBe(id);
      const pid = info?.Pid as number;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'latin1')).toBe('sleep\x0060\x00');
      const uidLine = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      expect(Number(uidLine)).toBe((subidRanges('/etc/subuid')[0] as { start: number }).start + 999);
      const holder = sessionPid(box.runtime) as number;
      for (const ns of ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup']) {
        expect(readlinkSync(`/proc/${pid}/ns/${ns}`), ns).not.toBe(readlinkSync(`/proc/${holder}/ns/${ns}`));
      }
      expect(readlinkSync(`/proc/${pid}/ns/user`)).toBe(readlinkSync(`/proc/${holder}/ns/user`));
      const nspid = /^NSpid:\s+(.*)$/m
        .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/);
      expect(nspid?.at(-1)).toBe('1');
    } finally {
      ok(['rm', '-t', '0', '-f', id], box);
    }
  });

  it('pivots into the image: only the container’s mounts, the old root gone', () => {
    const mountinfo = run('busybox', 'cat', '/proc/self/mountinfo').stdout;
    const points = mountinfo
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[4]);
    expect(points[0]).toBe('/');
    expect(points).not.toContain('/home');
    expect(points.every((p) => !p?.includes('hutch-test-'))).toBe(true);
    expect(run('busybox', 'ls', '/').stdout.split('\n')).toContain('bin');
  });

  it('gives /proc, a read-only /sys, a minimal /dev and the /etc files', () => {
    expect(run('busybox', 'sh', '-c', '(touch /sys/x) 2>&1; echo $?').stdout).toMatch(/Read-only file system\n1\n/);
    const dev = run('busybox', 'ls', '/dev').stdout.trim().split('\n').sort();
    for (const name of [
      'full',
      'mqueue',
      'null',
      'ptmx',
      'pts',
      'random',
      'shm',
      'tty',
      'urandom',
      'zero',
      'fd',
      'stdin',
      'stdout',
      'stderr',
    ]) {
      expect(dev).toContain(name);
    }
    expect(dev.filter((d) => /^(sd|nvme|vd|loop|mem|kmsg)/.test(d))).toEqual([]);
    const etc = run('--hostname', 'box1', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname; grep box1 /etc/hosts');
    expect(etc.status, etc.stderr).toBe(0);
    const lines = etc.stdout.trim().split('\n');
    expect(lines[0]).toBe('box1');
    expect(lines[1]).toBe('box1');
    expect(lines[2]).toMatch(/box1/);
    expect(run('busybox', 'test', '-f', '/etc/resolv.conf').status).toBe(0);
  });

  it('masks /proc and /sys paths and makes /proc/sys read-only', () => {
    expect(run('busybox', 'cat', '/proc/timer_list').stdout).toBe('');
    expect(run('busybox', 'cat', '/proc/keys').stdout).toBe('');
    expect(run('busybox', 'ls', '/sys/firmware').stdout).toBe('');
    expect(run('busybox', 'sh', '-c', '(echo 1 > /proc/sys/kernel/domainname) 2>&1; echo $?').stdout).toMatch(
      /Read-only file system\n1\n/,
    );
  });

  it("has podman's default capabilities as root, none as another user; --cap-add/--cap-drop/--privileged", () => {
    const root = caps(run('busybox', 'cat', '/proc/self/status').stdout);
    expect(root.CapEff).toBe(PODMAN_DEFAULT_CAPS);
    expect(root.CapBnd).toBe(PODMAN_DEFAULT_CAPS);
    const user = caps(run('-u', '1000', 'busybox', 'cat', '/proc/self/status').stdout);
    expect(user.CapEff).toBe(0n);
    expect(user.CapPrm).toBe(0n);
    const added = caps(
      run('--cap-add', 'NET_ADMIN', '--cap-drop', 'chown', 'busybox', 'cat', '/proc/self/status').stdout,
    );
    expect(added.CapEff).toBe((PODMAN_DEFAULT_CAPS | (1n << 12n)) & ~1n);
    const privileged = caps(run('--privileged', 'busybox', 'cat', '/proc/self/status').stdout);
    expect((privileged.CapEff as bigint) & (1n << 21n)).toBe(1n << 21n); // CAP_SYS_ADMIN
    expect(fail(['run', '--rm', '--cap-add', 'NOT_A_CAP', 'busybox', 'true'], box)).toMatch(
      /unknown capability "CAP_NOT_A_CAP"/,
    );
  });

  it('sets no_new_privs and a seccomp filter by default; seccomp=unconfined and profiles', () => {
    const status = run('busybox', 'cat', '/proc/self/status').stdout;
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(run('--security-opt', 'seccomp=unconfined', 'busybox', 'cat', '/proc/self/status').stdout).toMatch(
      /^Seccomp:\s+0$/m,
    );
    expect(run('busybox', 'sh', '-c', 'unshare -U true 2>&1; echo $?').stdout).toMatch(/not permitted|Operation/);
    const profile = join(work, 'no-mkdir.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
    );
    const denied = run('--security-opt', `seccomp=${profile}`, 'busybox', 'sh', '-c', 'mkdir /tmp/x 2>&1; echo $?');
    expect(denied.stdout).toMatch(/Operation not permitted\n1\n/);
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{"defaultAction": "SCMP_ACT_NOPE"}');
    expect(fail(['run', '--rm', '--security-opt', `seccomp=${broken}`, 'busybox', 'true'], box)).toMatch(
      /seccomp profile/,
    );
  });

  it("honours the image's Env, WorkingDir, User, Entrypoint, Cmd and StopSignal", () => {
    expect(run('configured').stdout).toBe('hello from /tmp as 1000\n');
    expect(run('configured', 'echo replaced').stdout).toBe('replaced\n');
    expect(run('--entrypoint', '', 'configured', 'id', '-u').stdout).toBe('1000\n');
    // STOPSIGNAL SIGUSR1: the container's trap for it decides the exit status.
    const id = ok(['run', '-d', 'configured', 'trap "exit 7" USR1; while true; do sleep 0.1; done'], box).trim();
    ok(['stop', '-t', '20', id], box);
    expect(ok(['wait', id], box)).toBe('7\n');
    ok(['rm', id], box);
  });

  it('-e, --env-file, -u, --group-add, -w, --entrypoint, --hostname', () => {
    const envFile = join(work, 'env');
    writeFileSync(envFile, '# comment\nFROM_FILE=1\n\nOVERRIDE=file\n');
    const env = run('-e', 'A=b', '--env-file', envFile, '-e', 'OVERRIDE=flag', 'busybox', 'env').stdout;
    expect(env).toMatch(/^A=b$/m);
    expect(env).toMatch(/^FROM_FILE=1$/m);
    expect(env).toMatch(/^OVERRIDE=flag$/m);
    expect(env).toMatch(/^HOME=\/root$/m);
    expect(run('-u', 'user', 'busybox', 'id').stdout).toBe('uid=1000(user) gid=1000(user) groups=1000(user)\n');
    expect(run('-u', '1000:0', '--group-add', '1000', 'busybox', 'id', '-G').stdout).toBe('0 1000\n');
    expect(run('-w', '/var/new', 'busybox', 'pwd').stdout).toBe('/var/new\n');
    expect(run('--entrypoint', 'echo', 'busybox', 'from', 'entrypoint').stdout).toBe('from entrypoint\n');
    const nobody = run('-u', 'nobody', 'busybox', 'true');
    expect(nobody.status).toBe(126);
    expect(errorLines(nobody.stderr)[0]).toMatch(/unable to find user nobody/);
  });

  it('-v binds (rw, ro), named volumes that outlive the container, --mount, --tmpfs, --read-only', () => {
    const data = mkdtempSync(join(tmpdir(), 'hutch-vol-'));
    writeFileSync(join(data, 'in.txt'), 'from host\n');
    expect(
      run('-v', `${data}:/data`, 'busybox', 'sh', '-c', 'cat /data/in.txt; echo back > /data/out.txt').stdout,
    ).toBe('from host\n');
    expect(readFileSync(join(data, 'out.txt'), 'utf8')).toBe('back\n');
    expect(run('-v', `${data}:/data:ro`, 'busybox', 'sh', '-c', 'touch /data/x 2>&1; echo $?').stdout).toMatch(
      /Read-only file system\n1\n/,
    );
    run('-v', 'keep:/keep', 'busybox', 'sh', '-c', 'echo persisted > /keep/f');
    expect(run('--mount', 'type=volume,source=keep,target=/k', 'busybox', 'cat', '/k/f').stdout).toBe('persisted\n');
    expect(run('--mount', `type=bind,source=${data},target=/b,readonly`, 'busybox', 'cat', '/b/in.txt').stdout).toBe(
      'from host\n',
    );
    expect(run('--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'grep " /scratch " /proc/mounts').stdout).toMatch(
      /tmpfs .*size=1024k/,
    );
    const readOnly = run('--read-only', 'busybox', 'sh', '-c', 'touch /x 2>&1; echo $?');
    expect(readOnly.stdout).toMatch(/Read-only file system\n1\n/);
    expect(fail(['run', '--rm', '-v', '/does/not/exist:/x', 'busybox', 'true'], box)).toMatch(/does not exist/);
    expect(fail(['run', '--rm', '-v', 'a:b:c:d', 'busybox', 'true'], box)).toMatch(/-v/);
  });

  it('--init runs a minimal init as pid 1 that forwards signals and reaps zombies', () => {
    const ps = run('--init', 'busybox', 'ps', '-o', 'pid,comm');
    expect(ps.stdout).toMatch(/^\s+1 hutch-init$/m);
    const reaped = run('--init', 'busybox', 'sh', '-c', '(sleep 0.1 &) ; sleep 0.5; ps -o stat | grep -c Z');
    expect(reaped.stdout.trim()).toBe('0');
    const id = ok(['run', '-d', '--init', 'busybox', 'sleep', '300'], box).trim();
    const started = Date.now();
    ok(['stop', '-t', '20', id], box);
    expect(Date.now() - started).toBeLessThan(10_000);
    const [after] = JSON.parse(ok(['ps', '-a', '--format', 'json'], box)) as { Id: string; ExitCode: number }[];
    expect(after?.ExitCode).toBe(143);
    ok(['rm', id], box);
  });

  it('-t gives a terminal in the container’s own /dev/pts, sized like ours; -i feeds stdin', () => {
    const script = `stty rows 30 cols 90; ${hutchBin} run --rm -t busybox sh -c 'tty; stty size'`;
    const tty = spawnSync('script', ['-qec', script, '/dev/null'], { env: box.env, encoding: 'utf8' });
    expect(tty.stdout.replace(/\r/g, '')).toMatch(/\/dev\/pts\/0\n30 90\n/);
    const input = hutch(['run', '--rm', '-i', 'busybox', 'sh'], { ...box, input: 'echo from-stdin\nexit 4\n' });
    expect(input.stdout).toBe('from-stdin\n');
    expect(input.status).toBe(4);
  });

  it('--userns=keep-id: your own uid inside', () => {
    expect(run('--userns=keep-id', 'busybox', 'id', '-u').stdout).toBe(`${process.getuid?.()}\n`);
  });

  it('--network none: only a loopback interface, up; the default is slirp4netns (tap0); a bad mode is refused', () => {
    const devices = (...args: string[]) =>
      run(...args, 'busybox', 'cat', '/proc/net/dev')
        .stdout.split('\n')
        .filter((l) => l.includes(':'))
        .map((l) => l.split(':')[0]?.trim())
        .sort();
    expect(devices('--network', 'none')).toEqual(['lo']);
    // IFF_LOOPBACK | IFF_UP, as podman leaves it: a container can reach itself on 127.0.0.1.
    expect(run('--network', 'none', 'busybox', 'cat', '/sys/class/net/lo/flags').stdout).toBe('0x9\n');
    expect(devices()).toEqual(['lo', 'tap0']);
    expect(fail(['run', '--rm', '--network', 'nonsense:x', 'busybox', 'true'], box)).toMatch(
      /invalid --network "nonsense:x": unknown network mode/,
    );
  });

  it('-d prints the id; stop sends the stop signal then SIGKILL; kill; start; wait; rm', () => {
    const id = ok(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '300'], box).trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    expect(ok(['ps'], box)).toMatch(/sleeper/);
    // sleep as pid 1 ignores SIGTERM: stop waits -t seconds, then kills.
    ok(['stop', '-t', '1', 'sleeper'], box);
    expect(ok(['ps', '-a'], box)).toMatch(/Exited \(137\)/);
    ok(['start', 'sleeper'], box);
    expect(ok(['ps'], box)).toMatch(/sleeper/);
    ok(['kill', '-s', 'TERM', 'sleeper'], box);
    ok(['kill', 'sleeper'], box);
    expect(ok(['wait', 'sleeper'], box)).toBe('137\n');
    expect(fail(['kill', 'sleeper'], box)).toMatch(/container state improper/);
    ok(['rm', 'sleeper'], box);
    // podman rm's status for a missing container is 1.
    expect(fail(['rm', 'sleeper'], box, 1)).toMatch(/no container with name or ID "sleeper" found/);
    expect(fail(['run', '-d', '--name', 'bad name', 'busybox', 'true'], box)).toMatch(/invalid container name/);
  });

  it('a running container survives a SIGKILLed client, and its state stays right', async () => {
    const child = (await import('../helpers/hutch.js')).hutchAsync(
      ['run', '--name', 'orphan', 'busybox', 'sh', '-c', 'echo up; sleep 2; exit 5'],
      box,
    );
    // Kill the client once its container's command runs: it printed its first line.
    const started = (): boolean => {
      const listed = hutch(['logs', 'orphan'], box);
      return listed.status === 0 && listed.stdout.includes('up');
    };
    for (let i = 0; i < 100 && !started(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(started()).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(ok(['wait', 'orphan'], box)).toBe('5\n');
    const state = (
      JSON.parse(ok(['ps', '-a', '--format', 'json'], box)) as { Names: string[]; ExitCode: number; State: string }[]
    ).find((c) => c.Names[0] === 'orphan');
    expect(state?.State).toBe('exited');
    expect(state?.ExitCode).toBe(5);
    ok(['rm', 'orphan'], box);
  });
});
