/**
 * The container log's bound and drivers, as the unprivileged user: a 300 MB
 * flood under --log-opt max-size=1m max-file=3 leaves at most three files of
 * 1 MB, `hutch logs` (and -f, through rotations) reads them oldest first,
 * start keeps the options; --log-driver none writes nothing, passthrough
 * hands the container the caller's stdio; each bad flag has its one Error:
 * line and exit 125.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, hutchRun, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** The log's files (ctr.log, ctr.log.N, anything else so named) and their sizes. */
function logFiles(path: string): Record<string, number> {
  const files: Record<string, number> = {};
  const base = path.slice(dirname(path).length + 1);
  for (const name of readdirSync(dirname(path))) {
    if (name === base || name.startsWith(`${base}.`)) files[name] = statSync(join(dirname(path), name)).size;
  }
  return files;
}

describe.skipIf(need.skip)('container logs: rotation and drivers', () => {
  let box: Sandbox;

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose();
  });

  const logConfig = (name: string) =>
    JSON.parse(ok(['inspect', '-f', '{{json .HostConfig.LogConfig}}', name], box)) as {
      Type: string;
      Config: Record<string, string> | null;
      Path: string;
      Size: string;
    };

  it('bounds a 300 MB flood to max-size × max-file on disk, and logs shows its last lines', () => {
    const started = Date.now();
    // 1000 lines of 1000 bytes, written 300 times: 300 MB through the monitor in lines.
    const flood =
      "yes $(head -c 999 /dev/zero | tr '\\0' x) | head -n 1000 > /tmp/mb; " +
      'i=0; while [ $i -lt 300 ]; do cat /tmp/mb; i=$((i+1)); done; echo last-line';
    ok(
      [
        'run',
        '-d',
        '--name',
        'flood',
        '--log-opt',
        'max-size=1m',
        '--log-opt',
        'max-file=3',
        'busybox',
        'sh',
        '-c',
        flood,
      ],
      box,
    );
    expect(ok(['wait', 'flood'], box)).toBe('0\n');
    const config = logConfig('flood');
    expect(config).toMatchObject({ Type: 'k8s-file', Config: { 'max-file': '3' }, Size: '1MB' });

    const files = logFiles(config.Path);
    expect(Object.keys(files).sort()).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.2']);
    const total = Object.values(files).reduce((a, b) => a + b, 0);
    // 1m is 1000000 bytes for podman; one entry is 1000 bytes of text plus its 44-byte prefix.
    expect(total).toBeLessThanOrEqual(3_000_000);
    for (const size of Object.values(files)) expect(size).toBeLessThanOrEqual(1_000_000);

    const tail = ok(['logs', '--tail', '2', 'flood'], box);
    expect(tail).toBe(`${'x'.repeat(999)}\nlast-line\n`);
    // About 3 MB: more than spawnSync's default maxBuffer.
    const logs = spawnSync(hutchBin, ['logs', 'flood'], { env: box.env, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(logs.status, logs.stderr).toBe(0);
    const all = logs.stdout.split('\n');
    expect(all.length).toBeGreaterThan(2000); // two full files and a part of the third, oldest first
    // The oldest file may begin with the end of a line whose start was dropped.
    expect(all.slice(1, -2).every((line) => line === 'x'.repeat(999))).toBe(true);
    console.log(`300 MB flood with max-size=1m max-file=3: ${total} bytes on disk, ${Date.now() - started} ms`);
  });

  it('logs -f follows the log across rotations, every line once and in order', async () => {
    const id = ok(
      [
        'run',
        '-d',
        '--log-opt',
        'max-size=2k',
        '--log-opt',
        'max-file=3',
        'busybox',
        'sh',
        '-c',
        'sleep 0.3; for i in $(seq 1 300); do echo line-$i; usleep 2000; done',
      ],
      box,
    ).trim();
    const followed = await hutchRun(['logs', '-f', id], box);
    expect(followed.status, followed.stderr).toBe(0);
    expect(followed.stdout).toBe(Array.from({ length: 300 }, (_, i) => `line-${i + 1}\n`).join(''));
    const files = logFiles(logConfig(id).Path);
    expect(Object.keys(files).sort()).toEqual(['ctr.log', 'ctr.log.1', 'ctr.log.2']);
  });

  it('keeps the options for the next start; max-size alone keeps one file, as podman does', () => {
    ok(['run', '--name', 'again', '--log-opt', 'max-size=2k', 'busybox', 'seq', '1', '1000'], box);
    const path = logConfig('again').Path;
    expect(Object.keys(logFiles(path))).toEqual(['ctr.log']);
    expect(statSync(path).size).toBeLessThanOrEqual(2000);
    ok(['start', '-a', 'again'], box);
    expect(Object.keys(logFiles(path))).toEqual(['ctr.log']);
    expect(statSync(path).size).toBeLessThanOrEqual(2000);
    expect(ok(['logs', '--tail', '1', 'again'], box)).toBe('1000\n');
  });

  it('writes nothing with --log-driver none, and logs says so as podman does', () => {
    const run = hutch(
      ['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2'],
      box,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('out\n');
    expect(run.stderr).toBe('err\n');
    const id = ok(['inspect', '-f', '{{.Id}}', 'quiet'], box).trim();
    const dir = join(box.env.XDG_DATA_HOME as string, 'hutch', 'containers', id);
    expect(readdirSync(dir).filter((name) => name.includes('log'))).toEqual([]);
    expect(logConfig('quiet')).toEqual({ Type: 'none', Config: null, Path: '', Tag: '', Size: '0B' });
    expect(fail(['logs', 'quiet'], box)).toBe(
      "Error: this container is using the 'none' log driver, cannot read logs: this container is not logging output",
    );
  });

  it('gives the container the caller’s stdio with passthrough, attached or detached, never a terminal', async () => {
    const attached = await hutchRun(
      [
        'run',
        '--name',
        'direct',
        '--log-driver',
        'passthrough',
        'busybox',
        'sh',
        '-c',
        'cat; echo err >&2; readlink /proc/self/fd/1',
      ],
      box,
      'from stdin\n',
    );
    expect(attached.status, attached.stderr).toBe(0);
    // Not relayed through the monitor: the container's stdout is hutch's own (node's 'pipe' is a socketpair).
    expect(attached.stdout).toMatch(/^from stdin\n(pipe|socket):\[\d+\]\n$/);
    expect(attached.stderr).toBe('err\n');
    expect(fail(['logs', 'direct'], box)).toBe(
      "Error: this container is using the 'passthrough' log driver, cannot read logs: this container is not logging output",
    );

    // podman prints no id with -d: the container writes to the caller's stdout, after hutch exited.
    const detached = await hutchRun(
      ['run', '-d', '--rm', '--log-driver', 'passthrough', 'busybox', 'sh', '-c', 'sleep 0.3; echo later'],
      box,
    );
    expect(detached.status, detached.stderr).toBe(0);
    expect(detached.stdout).toBe('later\n');

    expect(fail(['run', '--rm', '-t', '--log-driver', 'passthrough', 'busybox', 'true'], box)).toBe(
      "Error: the '--log-driver passthrough' option cannot be used with --tty",
    );
    // script(1) gives hutch a terminal on stdin, stdout and stderr.
    const onTerminal = spawnSync(
      'script',
      ['-qec', `${hutchBin} run --rm --log-driver passthrough busybox echo hi; echo status=$?`, '/dev/null'],
      { env: box.env, encoding: 'utf8' },
    );
    expect(onTerminal.stdout).toContain("Error: the '--log-driver passthrough' option cannot be used on a TTY");
    expect(onTerminal.stdout).toContain('status=125');
    expect(onTerminal.stdout).not.toContain('hi\r\n');
  });

  it('refuses bad drivers and options with one line and exit 125', () => {
    expect(fail(['run', '--rm', '--log-driver', 'journald', 'busybox', 'true'], box)).toBe(
      'Error: --log-driver journald: hutch has no journald support (it writes no systemd journal); use k8s-file, none or passthrough',
    );
    expect(fail(['run', '--rm', '--log-driver', 'syslog', 'busybox', 'true'], box)).toBe(
      'Error: invalid log driver "syslog"',
    );
    expect(fail(['create', '--log-opt', 'max-size=1x', 'busybox'], box)).toBe("Error: invalid size: '1x'");
    expect(fail(['create', '--log-opt', 'max-size', 'busybox'], box)).toBe('Error: invalid log option "max-size"');
    expect(fail(['create', '--log-opt', 'max-file=3', 'busybox'], box)).toBe(
      'Error: invalid log option max-file=3: it needs max-size',
    );
    // tag= is taken (podman's log tag); an option no driver knows is refused.
    expect(fail(['create', '--log-opt', 'nope=x', 'busybox'], box)).toBe('Error: unsupported log option "nope=x"');
  });
});
