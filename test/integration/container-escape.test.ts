/**
 * A container trying to reach the host through the processes hutch starts in
 * it (docs/security.md): its working directory swapped for a link to
 * /proc/self/fd/N before `exec`, `exec -w /proc/self/fd/N`, the same for run,
 * start and a build's RUN (CVE-2024-21626), and a watcher in the container
 * that catches exec'd processes before their execve and tries their cwd, root,
 * fds, exe and ptrace (CVE-2019-5736). None may read a marker file in the
 * user's home.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { repoRoot, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** Every fd number a process hutch starts might hold open (the range). */
const FDS = Array.from({ length: 18 }, (_, i) => i + 3);
/** From any directory, this relative path reaches the marker only if that directory is on the host. */
const UP = '../'.repeat(16);

/** The watcher's own capabilities, as its control line reports them. */
function controlCaps(report: string): string {
  return /^control caps=([0-9a-f]+) /m.exec(report)?.[1] ?? 'none';
}

describe.skipIf(need.skip)('a container cannot reach the host through the processes hutch starts in it', () => {
  let box: Sandbox;
  let work: string;
  let marker: string;
  let secret: string;
  const relMarker = () => `${UP}${marker.slice(1)}`;

  /** Neither stream shows the secret, and the command did not succeed. */
  function refused(result: { status: number | null; stdout: string; stderr: string }, what: string): void {
    expect(result.stdout + result.stderr, what).not.toContain(secret);
    expect(result.status, `${what}: ${result.stdout}${result.stderr}`).not.toBe(0);
  }

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-escape-'));
    chmodSync(work, 0o755);
    secret = `secret-${randomBytes(8).toString('hex')}`;
    marker = join(homedir(), `.hutch-escape-marker-${randomBytes(4).toString('hex')}`);
    writeFileSync(marker, `${secret}\n`);
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    rmSync(marker, { force: true });
    hutch(['rm', '-t', '0', '-f', '-a'], box);
    box?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('exec: a working directory swapped for /proc/self/fd/N by the container, for N from 3 to 20', () => {
    ok(['run', '-d', '--name', 'swapped', '-w', '/w', 'busybox', 'sleep', '1000'], box);
    for (const n of FDS) {
      ok(['exec', '-w', '/', 'swapped', 'sh', '-c', `rm -rf /w && ln -s /proc/self/fd/${n} /w`], box);
      const result = hutch(['exec', 'swapped', 'sh', '-c', `pwd; cat ${relMarker()}`], box);
      refused(result, `exec with /w -> /proc/self/fd/${n}`);
      expect(result.stderr).toMatch(
        /^Error: chdir to cwd \("\/w"\) failed: (ENOENT|ENOTDIR)|^Error: working directory/m,
      );
    }
    ok(['rm', '-t', '0', '-f', 'swapped'], box);
  });

  it('exec -w /proc/self/fd/N, for N from 3 to 20', () => {
    ok(['run', '-d', '--name', 'direct', 'busybox', 'sleep', '1000'], box);
    for (const n of FDS) {
      refused(hutch(['exec', '-w', `/proc/self/fd/${n}`, 'direct', 'cat', relMarker()], box), `exec -w fd ${n}`);
      refused(hutch(['exec', '-t', '-w', `/proc/self/fd/${n}`, 'direct', 'cat', relMarker()], box), `exec -t fd ${n}`);
    }
    ok(['rm', '-t', '0', '-f', 'direct'], box);
  });

  it('run -w /proc/self/fd/N, and start/restart of a container that swapped its own working directory', () => {
    for (const n of FDS) {
      refused(hutch(['run', '--rm', '-w', `/proc/self/fd/${n}`, 'busybox', 'cat', relMarker()], box), `run fd ${n}`);
    }
    for (const n of [3, 5, 7, 10, 20]) {
      const name = `restarted-${n}`;
      // Its first run swaps the link and exits; the next start would chdir through it.
      const first = hutch(
        ['run', '--name', name, '-w', '/w', 'busybox', 'sh', '-c', `cd / && rm -rf /w && ln -s /proc/self/fd/${n} /w`],
        box,
      );
      expect(first.status, first.stderr).toBe(0);
      refused(hutch(['start', '-a', name], box), `start fd ${n}`);
      ok(['rm', '-t', '0', '-f', name], box);
    }
  });

  it('build: a RUN whose WORKDIR an earlier step swapped for /proc/self/fd/N', () => {
    for (const n of [3, 4, 7, 10, 20]) {
      const dir = mkdtempSync(join(work, 'ctx-'));
      chmodSync(dir, 0o755);
      writeFileSync(
        join(dir, 'Containerfile'),
        `FROM busybox\nWORKDIR /w\nRUN cd / && rm -rf /w && ln -s /proc/self/fd/${n} /w\nRUN pwd; cat ${relMarker()}\n`,
      );
      refused(hutch(['build', '--no-cache', '-t', `swapped-${n}`, dir], box), `build fd ${n}`);
    }
  });

  /** The probe (test/fixtures/enter-probe.c), built static into a directory to mount at /probe. */
  function buildProbe(): string {
    const probeDir = mkdtempSync(join(work, 'probe-'));
    chmodSync(probeDir, 0o755);
    const built = spawnSync(
      'cc',
      ['-static', '-O2', '-o', join(probeDir, 'enter-probe'), join(repoRoot, 'test/fixtures/enter-probe.c')],
      { encoding: 'utf8' },
    );
    expect(built.status, `cc -static (gcc and libc6-dev): ${built.stderr}`).toBe(0);
    return probeDir;
  }

  /**
   * A container that runs the probe with its seccomp filter off (a denial must come from the
   * process being unreachable, not from the filter), beside a sleep it takes as its control.
   */
  function startProbe(name: string, probeDir: string, script: string): void {
    ok(
      [
        'run',
        '-d',
        '--name',
        name,
        '--security-opt',
        'seccomp=unconfined',
        '-v',
        `${probeDir}:/probe:ro`,
        'busybox',
      ].concat(['sh', '-c', script]),
      box,
    );
  }

  it('a watcher in the container catches exec’d processes before their execve and reaches nothing', () => {
    const probeDir = buildProbe();
    startProbe('watcher', probeDir, `sleep 1000 & exec /probe/enter-probe ${marker} /tmp/caught $!`);
    // A PATH of thousands of missing directories before /bin: the exec step's search holds the
    // process after its plan dropped its capabilities to the container's and before its execve,
    // the moment when a process with the same capabilities as the watcher could reach it.
    const path = `PATH=${'/nowhere:'.repeat(12_000)}/bin`;
    let report = '';
    const late = (r: string) => new RegExp(`^caught \\d+ caps=${controlCaps(r)} `, 'm').test(r);
    for (let i = 0; i < 60 && !(/^caught /m.test(report) && late(report)); i++) {
      ok(['exec', '-e', path, 'watcher', 'true'], box);
      report = hutch(['exec', 'watcher', 'cat', '/tmp/caught'], box).stdout;
    }
    ok(['rm', '-t', '0', '-f', 'watcher'], box);
    // The probe itself works: it can open the exe of, and pass ptrace's check on, a process that did exec.
    expect(report).toMatch(/^control caps=[0-9a-f]+ exe=REACHED ptrace=REACHED$/m);
    const caught = report.split('\n').filter((l) => l.startsWith('caught '));
    expect(
      caught.length,
      'the watcher never caught a process before its execve: the test proved nothing',
    ).toBeGreaterThan(0);
    expect(late(report), `never caught one with the container's capabilities:\n${report}`).toBe(true);
    for (const line of caught) {
      expect(line).not.toContain('REACHED');
      expect(line).toMatch(/exe=EACCES ptrace=EPERM$/);
    }
    expect(readFileSync(marker, 'utf8')).toBe(`${secret}\n`);
  });

  it('a program run as #!/proc/self/exe by exec finds a sealed copy of the monitor, not the host binary', () => {
    const probeDir = buildProbe();
    startProbe(
      'shebang',
      probeDir,
      `printf '#!/proc/self/exe\\n' > /evil && chmod 755 /evil && sleep 1000 & exec /probe/enter-probe shebang /tmp/caught $!`,
    );
    let report = '';
    for (let i = 0; i < 60 && !/^shebang /m.test(report); i++) {
      hutch(['exec', 'shebang', '/evil'], box);
      report = hutch(['exec', 'shebang', 'cat', '/tmp/caught'], box).stdout;
    }
    ok(['rm', '-t', '0', '-f', 'shebang'], box);
    // The copy refuses writes (EPERM: sealed), is busy while it runs (ETXTBSY), or is out of reach once it
    // runs Main again and makes itself non-dumpable (EACCES): never the user's file, never written.
    const lines = report.split('\n').filter((l) => l.startsWith('shebang '));
    expect(lines.length, `the probe never caught /evil running:\n${report}`).toBeGreaterThan(0);
    for (const line of lines)
      expect(line).toMatch(/^shebang \d+ exe=\/memfd:hutch-monitor \(deleted\) write=(EPERM|ETXTBSY|EACCES)$/);
  });

  it('--init: the container cannot write the host binary its pid 1 runs (a read-only bind)', () => {
    const launcher = join(repoRoot, 'bin/hutch');
    const before = readFileSync(launcher);
    const result = hutch(
      ['run', '--rm', '--init', 'busybox', 'sh', '-c', 'readlink /proc/1/exe; printf x >> /proc/1/exe; echo status=$?'],
      box,
    );
    expect(result.stdout).toMatch(/^\/run\/hutch-init\nstatus=1\n$/);
    expect(result.stderr).toMatch(/Read-only file system|Text file busy/);
    expect(readFileSync(launcher).equals(before)).toBe(true);
  });
});
