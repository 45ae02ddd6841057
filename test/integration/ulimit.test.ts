/**
 * --ulimit on run, create and build as the unprivileged user: the limits hold
 * inside the container (a fork loop under nproc runs into EAGAIN), inspect
 * shows them, a hard limit above the user's own is refused before anything
 * exists. Where no pids controller is delegated (this host), RLIMIT_NPROC is
 * all that bounds a fork bomb, and hutch info says so.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsControllerDelegated } from '../../src/run/cgroups/index.js';
import { readCgroupFacts } from '../../src/run/cgroups/probe.js';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/**
 * Forks up to 200 sleeping children, stopping at the first fork that fails
 * (`command eval` keeps busybox sh alive then); prints how many it got.
 */
const FORK_LOOP = 'i=0; while [ $i -lt 200 ]; do command eval "sleep 30 &" || break; i=$((i+1)); done; echo forked=$i';

/** This process's hard limit of open files, as /proc/self/limits says (-1: unlimited). */
function hardNofile(): number {
  const line = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return line === 'unlimited' ? -1 : Number(line);
}

describe.skipIf(need.skip)('hutch run/create/build --ulimit', () => {
  let box: Sandbox;
  let dir: string;

  beforeAll(async () => {
    box = sandbox();
    dir = mkdtempSync(join(tmpdir(), 'hutch-ulimit-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose(dir);
  });

  it('--ulimit nproc=64: a fork loop runs into EAGAIN before 64 processes; without it, it does not', () => {
    const limited = hutch(['run', '--rm', '--ulimit', 'nproc=64', 'busybox', 'sh', '-c', FORK_LOOP], box);
    expect(limited.status, limited.stderr).toBe(0);
    const forked = Number(/^forked=(\d+)$/m.exec(limited.stdout)?.[1]);
    // The limit counts every process of the user in hutch's session (hutch itself included), so fewer than 64.
    expect(forked).toBeGreaterThan(0);
    expect(forked).toBeLessThan(64);
    expect(limited.stderr).toMatch(/can't fork: Resource temporarily unavailable/);

    const free = hutch(['run', '--rm', 'busybox', 'sh', '-c', FORK_LOOP], box);
    expect(free.status, free.stderr).toBe(0);
    expect(free.stdout).toBe('forked=200\n');
    expect(free.stderr).toBe('');
  });

  it('sets soft and hard limits as given, -1 as much as the user has, and inspect shows them', () => {
    const hard = hardNofile();
    const out = ok(
      [
        'run',
        '--rm',
        '--ulimit',
        'nofile=100:200',
        '--ulimit',
        'core=-1',
        '--ulimit',
        'nproc=500:1000',
        'busybox',
        'sh',
        '-c',
        'ulimit -n; ulimit -Hn; ulimit -Hc; ulimit -u; ulimit -Hu',
      ],
      box,
    );
    expect(out).toBe('100\n200\nunlimited\n500\n1000\n');
    expect(ok(['run', '--rm', '--ulimit', 'nofile=-1', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'], box)).toBe(
      hard === -1 ? 'unlimited\nunlimited\n' : `${hard}\n${hard}\n`,
    );

    ok(['create', '--name', 'limited', '--ulimit', 'nproc=50', '--ulimit', 'nofile=64:128', 'busybox', 'true'], box);
    const [inspected] = JSON.parse(ok(['inspect', 'limited'], box)) as { HostConfig: { Ulimits: unknown } }[];
    expect(inspected?.HostConfig.Ulimits).toEqual([
      { Name: 'RLIMIT_NPROC', Soft: 50, Hard: 50 },
      { Name: 'RLIMIT_NOFILE', Soft: 64, Hard: 128 },
    ]);
    // Kept with the container: every start sets them, and an exec'd process gets them too.
    ok(['rm', 'limited'], box);
    ok(['run', '-d', '--name', 'exec-limited', '--ulimit', 'nofile=64:128', 'busybox', 'sleep', '100'], box);
    expect(ok(['exec', 'exec-limited', 'sh', '-c', 'ulimit -n; ulimit -Hn'], box)).toBe('64\n128\n');
    ok(['rm', '-t', '0', '-f', 'exec-limited'], box);
  });

  it('refuses a hard limit above the user’s own, and a bad flag, with one line and exit 125', () => {
    const hard = hardNofile();
    if (hard !== -1) {
      expect(fail(['run', '--rm', '--ulimit', `nofile=1024:${hard + 1}`, 'busybox', 'true'], box)).toBe(
        `Error: --ulimit nofile=1024:${hard + 1}: the hard limit ${hard + 1} is above yours (${hard}), and only root may raise a hard limit`,
      );
    }
    expect(fail(['run', '--rm', '--ulimit', 'nofiles=10', 'busybox', 'true'], box)).toBe(
      'Error: invalid --ulimit nofiles=10: unknown limit "nofiles"',
    );
    expect(fail(['create', '--ulimit', 'nproc=20:10', 'busybox', 'true'], box)).toBe(
      'Error: invalid --ulimit nproc=20:10: the soft limit 20 is above the hard limit 10',
    );
    // Refused before anything existed.
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
  });

  it('build --ulimit: every RUN step gets the limits, nproc bounding a fork loop there too', () => {
    writeFileSync(
      join(dir, 'Containerfile'),
      `FROM busybox\nRUN ulimit -n > /nofile; ulimit -Hu > /nproc; ${FORK_LOOP} > /forked\n`,
    );
    const built = hutch(['build', '--ulimit', 'nofile=123', '--ulimit', 'nproc=64', '-t', 'limited', dir], box);
    expect(built.status, built.stderr).toBe(0);
    const [nofile, nproc, forked] = ok(['run', '--rm', 'limited', 'cat', '/nofile', '/nproc', '/forked'], box)
      .trim()
      .split('\n');
    expect(nofile).toBe('123');
    expect(nproc).toBe('64');
    expect(Number(/^forked=(\d+)$/.exec(forked ?? '')?.[1])).toBeLessThan(64);
    expect(hutch(['build', '--ulimit', 'nproc', dir], box).stderr).toMatch(
      /^Error: invalid --ulimit nproc: no TYPE=$/m,
    );
  });

  it('hutch info says what bounds a fork bomb here', () => {
    const text = ok(['info'], box);
    const line = /^limits:\n {2}processes: (.*)$/m.exec(text)?.[1];
    if (pidsControllerDelegated(readCgroupFacts())) {
      expect(line).toBe(
        "ok, each container's cgroup holds at most 2048 processes unless --pids-limit says otherwise (-1: none)",
      );
    } else {
      expect(line).toMatch(
        /^no, no pids controller is delegated: nothing bounds a fork bomb in a container but RLIMIT_NPROC, which counts every process of its user, not of one container \(yours: (\d+|unlimited)\); --ulimit nproc=N\[:M\] sets a container's$/,
      );
      expect(text).toMatch(/^limits:\n {2}processes: no, .*\n {4}fix: /m);
    }
  });
});
