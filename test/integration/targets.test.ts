/**
 * The container verbs' podman flags, as the unprivileged user: which
 * containers rm, stop, kill, pause, restart, start and wait act on (names,
 * --all, --latest, --cidfile, --filter, --ignore; src/verbs/targets.ts),
 * what they print and their exit statuses; rm -t, --depend and --force;
 * stop's stopping state and SIGKILL warning; the `container` tree's aliases,
 * exists and rename; run --replace.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, hutchAsync, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('container selection flags', () => {
  let box: Sandbox;
  let work: string;
  const ids = (text: string) => text.trim().split('\n').filter(Boolean).sort();

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-targets-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterEach(() => {
    ok(['rm', '-t', '0', '--all', '--force', '--ignore'], box);
  });
  afterAll(() => box.dispose(work));

  it('rm: what podman’s test set-up runs, its exit statuses and messages', () => {
    expect(ok(['rm', '-t', '0', '--all', '--force', '--ignore'], box)).toBe('');
    const running = ok(['run', '-d', 'busybox', 'sleep', '60'], box).trim();
    const stopped = ok(['create', '--name', 'stopped', 'busybox', 'true'], box).trim();

    expect(fail(['rm', running], box, 2)).toBe(
      `Error: cannot remove container ${running} as it is running - running or paused containers cannot be removed without force: container state improper`,
    );
    expect(fail(['rm', 'stopped', 'bogus'], box, 1)).toBe(
      'Error: no container with name or ID "bogus" found: no such container',
    );
    // Every name is looked up first: stopped is still there.
    expect(ok(['ps', '-a', '-q', '--no-trunc'], box)).toContain(stopped);
    expect(ok(['rm', '--ignore', 'bogus', 'stopped'], box)).toBe('stopped\n');
    expect(ok(['container', 'rm', '--force', 'bogus'], box)).toBe('');
    const result = hutch(['container', 'rm', 'bogus'], box);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'Error: no container with name or ID "bogus" found: no such container\nhint: hutch ps -a lists the containers\n',
    );
    // -t 0: SIGKILL at once; --all prints the ids.
    const started = Date.now();
    expect(ok(['rm', '-t', '0', '-a', '-f'], box)).toBe(`${running}\n`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fail(['rm'], box)).toBe('Error: you must provide at least one name or id');
    expect(fail(['rm', '-a', 'x'], box)).toBe('Error: no arguments are needed with --all');
  });

  it('rm --depend removes the containers that joined one first; without it, it is refused', () => {
    const owner = ok(['create', 'busybox', 'true'], box).trim();
    const joined = ok(['create', '--net', `container:${owner}`, 'busybox', 'true'], box).trim();
    expect(fail(['rm', owner], box)).toBe(
      `Error: container ${owner} has dependent containers which must be removed before it: ${joined}: container already exists`,
    );
    expect(ok(['rm', '--depend', owner], box)).toBe(`${joined}\n${owner}\n`);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
  });

  it('--latest, --cidfile and --filter pick containers as podman does', () => {
    const first = ok(['create', '--name', 'first', '-l', 'team=a', 'busybox', 'true'], box).trim();
    const last = ok(['create', '--name', 'last', 'busybox', 'true'], box).trim();
    const cidfile = join(work, 'cid');
    writeFileSync(cidfile, `${first}\n`);
    expect(ok(['stop', '--cidfile', cidfile], box)).toBe(`${first}\n`);
    expect(ok(['stop', '--latest'], box)).toBe(`${last}\n`);
    expect(ok(['stop', '--filter', 'label=team=a'], box)).toBe(`${first}\n`);
    expect(fail(['stop', '--filter', 'name=x', 'first'], box)).toBe('Error: --filter takes no arguments');
    expect(fail(['stop', '--cidfile', join(work, 'missing')], box)).toBe(
      `Error: reading CIDFile: open ${join(work, 'missing')}: no such file or directory`,
    );
    expect(ok(['rm', '--filter', 'name=^la'], box)).toBe(`${last}\n`);
    expect(fail(['stop', 'bogus'], box)).toBe('Error: no container with name or ID "bogus" found: no such container');
    expect(ok(['stop', '--ignore', 'bogus'], box)).toBe('');
    expect(ok(['wait', '--latest'], box)).toBe('0\n');
  });

  it('stop -a stops every container; kill -a signals the running ones; both print ids', () => {
    const a = ok(['run', '-d', 'busybox', 'sleep', '60'], box).trim();
    const b = ok(['run', '-d', 'busybox', 'sleep', '60'], box).trim();
    const created = ok(['create', 'busybox', 'true'], box).trim();
    expect(ids(ok(['kill', '-a', '-s', 'KILL'], box))).toEqual([a, b].sort());
    ok(['wait', a, b], box);
    expect(ids(ok(['stop', '-a', '-t', '1'], box))).toEqual([a, b, created].sort());
    expect(ok(['kill', '-a'], box)).toBe('');
    expect(fail(['kill', '-s', '-SIGBADSIG', 'x'], box)).toBe('Error: invalid signal: SIGBADSIG');
    expect(fail(['kill', '-s', '65', 'x'], box)).toBe('Error: valid signals are 1 through 64');
  });

  it('stop: the container is stopping while its stop signal is ignored, and SIGKILL comes with a warning', async () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'stubborn',
        'busybox',
        'sh',
        '-c',
        "trap 'echo ignored' TERM; echo READY; while :; do sleep 0.2; done",
      ],
      box,
    );
    for (let i = 0; i < 100 && !ok(['logs', 'stubborn'], box).includes('READY'); i++) await sleep(50);
    const stopping = hutchAsync(['stop', '-t', '6', 'stubborn'], box);
    let stderr = '';
    stopping.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => stopping.on('close', resolve));
    let status = '';
    for (let i = 0; i < 40 && status !== 'stopping'; i++) {
      await sleep(50);
      status = ok(['inspect', '--format', '{{.State.Status}}', 'stubborn'], box).trim();
    }
    expect(status).toBe('stopping');
    expect(ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}'], box)).toBe('stubborn Stopping\n');
    expect(await done).toBe(0);
    expect(stderr).toBe(
      'warning: StopSignal SIGTERM failed to stop container stubborn in 6 seconds, resorting to SIGKILL\n',
    );
    expect(ok(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', 'stubborn'], box)).toBe('exited 137\n');
    // -t 0: SIGKILL at once, nothing said.
    ok(['start', 'stubborn'], box);
    const quiet = hutch(['--noout', 'stop', '-t', '0', 'stubborn'], box);
    expect([quiet.status, quiet.stdout, quiet.stderr]).toEqual([0, '', '']);
  });

  it('pause -a and unpause -a take the running and the paused containers', () => {
    const a = ok(['run', '-d', 'busybox', 'sleep', '60'], box).trim();
    ok(['create', 'busybox', 'true'], box);
    const paused = hutch(['pause', '-a'], box);
    // Where the host gives containers no cgroup to freeze, pause says why: that is cgroups' test.
    if (paused.status !== 0) {
      expect(errorLines(paused.stderr)).toHaveLength(1);
      return;
    }
    expect(paused.stdout).toBe(`${a}\n`);
    expect(ok(['ps', '--format', '{{.ID}}'], box)).toBe('');
    expect(ok(['ps', '-a', '--filter', 'status=paused', '--format', '{{.Status}}'], box)).toBe('Paused\n');
    expect(ok(['unpause', '-a'], box)).toBe(`${a}\n`);
  });

  it('restart -a and start --all act on every container; start fails with 125 whatever kept it from starting', () => {
    const a = ok(['create', 'busybox', 'sleep', '60'], box).trim();
    const b = ok(['create', 'busybox', 'true'], box).trim();
    expect(ids(ok(['start', '--all'], box))).toEqual([a, b].sort());
    expect(ids(ok(['restart', '-a', '-t', '0'], box))).toEqual([a, b].sort());
    ok(['create', '--name', 'broken', 'busybox', '/no/such/command'], box);
    expect(ok(['wait', 'broken'], box)).toBe('0\n');
    const result = hutch(['start', 'broken'], box);
    expect(result.status).toBe(125);
  });

  it('the container tree: ls, list, ps, exists, rename; run --replace', () => {
    const id = ok(['run', '-d', '--stop-timeout', '0', '--name', 'named', 'busybox', 'sleep', '60'], box).trim();
    for (const verb of ['ls', 'list', 'ps']) expect(ok(['container', verb, '-q', '--no-trunc'], box)).toBe(`${id}\n`);
    expect(hutch(['container', 'exists', 'named'], box)).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(hutch(['container', 'exists', 'bogus'], box)).toMatchObject({ status: 1, stdout: '', stderr: '' });
    expect(ok(['rename', 'named', 'renamed'], box)).toBe('');
    expect(ok(['ps', '--format', '{{.Names}}'], box)).toBe('renamed\n');
    ok(['container', 'create', '--name', 'other', 'busybox', 'true'], box);
    expect(fail(['container', 'rename', 'renamed', 'other'], box)).toBe(
      `Error: renaming container ${id}: name other already in use, cannot rename container ${id}: container already exists`,
    );
    expect(fail(['rename', 'renamed', 'bad/name'], box)).toBe(
      'Error: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument',
    );
    // podman prints the name of the container --replace removed, then the new id.
    const [removed, replaced] = ok(['run', '-d', '--replace', '--name', 'renamed', 'busybox', 'sleep', '60'], box)
      .trim()
      .split('\n');
    expect(removed).toBe('renamed');
    expect(replaced).not.toBe(id);
    expect(ok(['ps', '-q', '--no-trunc'], box)).toBe(`${replaced}\n`);
  });
});
