/**
 * run's and create's flags of podman 4.3.1 that scripts and compose use, for
 * real, each compared on the development host with podman's output and exit
 * code: --timeout, --tz, --cidfile, --replace, -a, --env-host, --dns-option,
 * --volumes-from, --preserve-fds, --network-alias (with --net), and
 * `network exists`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('run and create flags', () => {
  let box: Sandbox;
  let scratch: string;
  const inspect = (name: string, format: string) => ok(['inspect', '--format', format, name], box).trim();

  beforeAll(async () => {
    box = sandbox();
    scratch = mkdtempSync(join(tmpdir(), 'hutch-flags-'));
    ok(['import', await busyboxRootfsTar(), 'localhost/busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-af'], box);
    hutch(['network', 'rm', '-f', 'flagnet'], box);
    rmSync(scratch, { recursive: true, force: true });
    box.dispose();
  });

  it('--timeout kills the container after N seconds: exit 255, exit code -1 (podman’s system test)', () => {
    const started = Date.now();
    const result = hutch(['run', '--name', 'timed', '--timeout', '2', 'localhost/busybox', 'sleep', '60'], box);
    expect(result.status, result.stderr).toBe(255);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(inspect('timed', '{{.State.Status}} {{.State.ExitCode}} {{.Config.Timeout}}')).toBe('exited -1 2');
  });

  it('--tz sets /etc/localtime from the host’s zones (the last one wins), or the host’s own with local', () => {
    expect(ok(['run', '--rm', '--tz=US/Eastern', '--tz=Asia/Tokyo', 'localhost/busybox', 'date', '+%Z'], box)).toBe(
      'JST\n',
    );
    const hostZone = createHash('sha256').update(readFileSync('/etc/localtime')).digest('hex');
    expect(ok(['run', '--rm', '--tz', 'local', 'localhost/busybox', 'sha256sum', '/etc/localtime'], box)).toBe(
      `${hostZone}  /etc/localtime\n`,
    );
    expect(ok(['run', '--rm', '--tz', 'Asia/Tokyo', 'localhost/busybox', 'sh', '-c', 'echo "[$TZ]"'], box)).toBe(
      '[]\n',
    );
    expect(fail(['run', '--rm', '--tz', 'Bogus/Zone', 'localhost/busybox', 'true'], box)).toBe(
      'Error: running container create option: stat /usr/share/zoneinfo/Bogus/Zone: no such file or directory',
    );
  });

  it('--cidfile writes the id, and refuses a file that exists before making anything', () => {
    const cidfile = join(scratch, 'cid');
    const id = ok(['create', '--cidfile', cidfile, '--name', 'withcid', 'localhost/busybox', 'true'], box).trim();
    expect(readFileSync(cidfile, 'utf8')).toBe(id);
    const before = ok(['ps', '-aq'], box);
    expect(fail(['run', '--cidfile', cidfile, 'localhost/busybox', 'true'], box)).toBe(
      `Error: container id file exists. Ensure another container is not using it or delete ${cidfile}`,
    );
    expect(ok(['ps', '-aq'], box)).toBe(before);
  });

  it('--replace stops and removes the container of the name, printing its name first', () => {
    // Stopped with its own stop signal and timeout: sleep as pid 1 ignores SIGTERM, so 1 s, then SIGKILL.
    const old = ok(
      ['run', '-d', '--name', 'replaced', '--stop-timeout', '1', 'localhost/busybox', 'sleep', '1000'],
      box,
    ).trim();
    const out = ok(['run', '-d', '--replace', '--name', 'replaced', 'localhost/busybox', 'true'], box);
    const [name, id] = out.trim().split('\n');
    expect(name).toBe('replaced');
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id).not.toBe(old);
    expect(hutch(['inspect', old], box).status).toBe(125);
    // Nothing of that name: --replace creates it as usual.
    expect(ok(['create', '--replace', '--name', 'fresh', 'localhost/busybox', 'true'], box)).toMatch(
      /^[0-9a-f]{64}\n$/,
    );
  });

  it('-a relays only the streams named; with neither stdout nor stderr it prints the id (podman’s system test)', () => {
    const script = ['localhost/busybox', 'sh', '-c', 'echo out; echo err >&2'];
    const stdout = hutch(['run', '--rm', '-a', 'stdout', ...script], box);
    expect([stdout.stdout, stdout.stderr]).toEqual(['out\n', '']);
    const stderr = hutch(['run', '--rm', '-a', 'stderr', ...script], box);
    expect([stderr.stdout, stderr.stderr]).toEqual(['', 'err\n']);
    const stdin = hutch(['run', '--name', 'attached-stdin', '-a', 'stdin', ...script], box);
    expect(stdin.stdout).toBe(`${inspect('attached-stdin', '{{.Id}}')}\n`);
    expect(fail(['run', '-a', 'bogus', 'localhost/busybox', 'true'], box)).toBe(
      'Error: invalid stream "bogus" for --attach - must be one of stdin, stdout, or stderr: invalid argument',
    );
  });

  it('--env-host gives the container the caller’s environment, under -e', () => {
    const env = { ...box.env, FROM_HOST: 'yes', OVERRIDDEN: 'host' };
    const result = hutch(
      [
        'run',
        '--rm',
        '--env-host',
        '-e',
        'OVERRIDDEN=flag',
        'localhost/busybox',
        'sh',
        '-c',
        'echo $FROM_HOST $OVERRIDDEN',
      ],
      { env },
    );
    expect(result.stdout, result.stderr).toBe('yes flag\n');
    expect(hutch(['run', '--rm', 'localhost/busybox', 'sh', '-c', 'echo "[$FROM_HOST]"'], { env }).stdout).toBe('[]\n');
  });

  it('--dns-option (and --dns-opt) set resolv.conf’s options, in order', () => {
    const resolv = ok(
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--dns-opt',
        'ndots:3',
        '--dns-option',
        'timeout:1',
        'localhost/busybox',
        'cat',
        '/etc/resolv.conf',
      ],
      box,
    );
    expect(resolv).toMatch(/^options ndots:3 timeout:1$/m);
  });

  it('--volumes-from mounts another container’s volumes and binds where it has them, :ro read-only', () => {
    ok(['volume', 'create', 'shared'], box);
    ok(
      [
        'run',
        '--name',
        'source',
        '-v',
        'shared:/data',
        '-v',
        `${scratch}:/host`,
        'localhost/busybox',
        'sh',
        '-c',
        'echo in-volume > /data/file',
      ],
      box,
    );
    writeFileSync(join(scratch, 'bound'), 'in-bind\n');
    expect(
      ok(['run', '--rm', '--volumes-from', 'source', 'localhost/busybox', 'cat', '/data/file', '/host/bound'], box),
    ).toBe('in-volume\nin-bind\n');
    const ro = hutch(['run', '--rm', '--volumes-from', 'source:ro', 'localhost/busybox', 'touch', '/data/x'], box);
    expect(ro.status).toBe(1);
    expect(ro.stderr).toContain('Read-only file system');
    expect(fail(['run', '--rm', '--volumes-from', 'nosuch', 'localhost/busybox', 'true'], box)).toBe(
      'Error: looking up container "nosuch" for volumes-from: no container with name or ID "nosuch" found: no such container',
    );
  });

  it('--preserve-fds hands the caller’s fds to the container, and refuses fds that were not passed (podman’s system test)', () => {
    const file = join(scratch, 'fd-content');
    writeFileSync(file, 'read through fd 4\n');
    // The shell opens fds 3 and 4 for hutch, as bats does.
    const run = (extra: string) =>
      spawnSync(
        'sh',
        ['-c', `"$0" run --rm -i --preserve-fds=2 localhost/busybox sh -c 'cat <&4' ${extra}`, hutchBin],
        {
          env: box.env,
          encoding: 'utf8',
        },
      );
    const passed = run(`3</dev/null 4<'${file}'`);
    expect(passed.stdout, passed.stderr).toBe('read through fd 4\n');
    const missing = run(`4<'${file}'`);
    expect(missing.status).toBe(125);
    expect(missing.stderr.split('\n')[0]).toBe(
      'Error: file descriptor 3 is not available - the preserve-fds option requires that file descriptors must be passed',
    );
  });

  it('--net NAME --network-alias: the others on the network find it by its alias; network exists says 0 or 1', () => {
    expect(hutch(['network', 'exists', 'flagnet'], box)).toMatchObject({ status: 1, stdout: '', stderr: '' });
    ok(['network', 'create', 'flagnet'], box);
    expect(hutch(['network', 'exists', 'flagnet'], box)).toMatchObject({ status: 0, stdout: '', stderr: '' });
    ok(
      [
        'run',
        '-d',
        '--name',
        'aliased',
        '--net',
        'flagnet',
        '--network-alias',
        'db',
        '--network-alias',
        'store',
        'localhost/busybox',
        'sh',
        '-c',
        'echo hi > /tmp/i && exec httpd -f -p 80 -h /tmp',
      ],
      box,
    );
    const reply = ok(
      [
        'run',
        '--rm',
        '--network',
        'flagnet',
        'localhost/busybox',
        'sh',
        '-c',
        "printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc -w 5 store 80",
      ],
      box,
    );
    expect(reply).toMatch(/\r\n\r\nhi\n$/);
    expect(ok(['exec', 'aliased', 'cat', '/etc/hosts'], box)).toMatch(/\saliased db store\n/);
    expect(fail(['run', '--rm', '--net', 'flagnet,other', 'localhost/busybox', 'true'], box)).toBe(
      'Error: --network flagnet,other: hutch connects a container to one network',
    );
    expect(fail(['run', '--rm', '--network-alias', 'x', '--network', 'none', 'localhost/busybox', 'true'], box)).toBe(
      'Error: invalid config provided: networks and static ip/mac address can only be used with Bridge mode networking',
    );
  });
});
