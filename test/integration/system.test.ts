/**
 * `hutch system df`, `system prune` and `system reset` through bin/hutch as
 * the unprivileged user: podman's summary, its question on stdin (answered
 * from a pipe, refused on EOF), what each removes and what it leaves.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

const QUESTION = [
  'WARNING! This command removes:',
  '\t- all stopped containers',
  '\t- all networks not used by at least one container',
  '\t- all dangling images',
  '\t- all dangling build cache',
  '',
  'Are you sure you want to continue? [y/N] ',
].join('\n');

describe.skipIf(need.skip)('hutch system df, prune and reset', () => {
  let box: Sandbox;
  let rootfs: string;
  let bb: string;
  const lines = (args: string[]) => ok(args, box).trimEnd().split('\n');

  beforeAll(async () => {
    box = sandbox();
    rootfs = await busyboxRootfsTar();
    bb = ok(['import', rootfs, 'localhost/bb:latest'], box).trim();
  });
  afterAll(() => box.dispose());

  it('df: images, containers and volumes, with what is in use and what could go', () => {
    ok(['import', rootfs, 'localhost/spare:latest', '--message', 'a second image'], box);
    ok(['volume', 'create', 'v1'], box);
    ok(['run', '--name', 'c1', '-v', 'v1:/data', 'localhost/bb', 'sh', '-c', 'echo 12345 > /data/f; echo x > /f'], box);
    const df = lines(['system', 'df']);
    expect(df[0]).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
    expect(df[1]).toMatch(/^Images +2 +1 +\d\.\d+MB +\d\.\d+MB \(50%\)$/);
    expect(df[2]).toMatch(/^Containers +1 +0 +[\d.]+k?B +[\d.]+k?B \(100%\)$/);
    expect(df[3]).toBe('Local Volumes  1           1           6B          0B (0%)');
    expect(ok(['system', 'df', '--format', '{{.Type}}:{{.Total}}'], box)).toBe(
      'Images:2\nContainers:1\nLocal Volumes:1\n',
    );
    const verbose = ok(['system', 'df', '-v'], box);
    expect(verbose).toMatch(
      /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
    );
    expect(verbose).toMatch(
      /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/,
    );
    expect(verbose).toContain(`${bb.slice(7, 19)}  sh -c echo 12345 > /data/f; echo x > /f  1`);
    expect(verbose).toMatch(/\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\nv1 +1 +6B\n$/);
  });

  it('prune asks on stdin: n leaves everything, EOF is an error, y removes stopped containers and dangling images', () => {
    const no = hutch(['system', 'prune'], { env: box.env, input: 'n\n' });
    expect(no).toMatchObject({ status: 0, stdout: QUESTION });
    const eof = hutch(['system', 'prune'], { env: box.env, input: '' });
    expect(eof.status).toBe(125);
    expect(eof.stderr.split('\n')[0]).toBe('Error: EOF');
    expect(lines(['ps', '-a', '-q'])).toHaveLength(1);

    ok(['untag', 'localhost/spare'], box);
    const spare = lines(['images', '-q', '--no-trunc', '--filter', 'dangling=true']);
    expect(spare).toHaveLength(1);
    const yes = hutch(['system', 'prune'], { env: box.env, input: 'y\n' });
    expect(yes.status, yes.stderr).toBe(0);
    const [question, report] = [yes.stdout.slice(0, QUESTION.length), yes.stdout.slice(QUESTION.length)];
    expect(question).toBe(QUESTION);
    expect(report).toMatch(
      new RegExp(
        `^Deleted Containers\\n[a-f0-9]{64}\\nDeleted Images\\n${(spare[0] as string).slice(7)}\\nTotal reclaimed space: \\d+(\\.\\d+)?[kM]?B\\n$`,
      ),
    );
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    // The volume and the named image stay: no --volumes, no --all.
    expect(lines(['volume', 'ls', '-q'])).toEqual(['v1']);
    expect(lines(['images', '-q', '--no-trunc'])).toEqual([bb]);
  });

  it('prune --all --volumes --force: every image no container uses and every unused volume, no question', () => {
    // A running container keeps its image (and is no stopped container).
    ok(['run', '-d', '--name', 'running', 'localhost/bb', 'sleep', '300'], box);
    const unused = ok(['import', rootfs, 'localhost/unused:1', '--message', 'unused'], box).trim();
    expect(ok(['system', 'prune', '--all', '--volumes', '--force'], box)).toMatch(
      new RegExp(`^Deleted Volumes\\nv1\\nDeleted Images\\n${unused.slice(7)}\\nTotal reclaimed space: \\d`),
    );
    expect(lines(['images', '--format', '{{.Repository}}'])).toEqual(['localhost/bb']);
    expect(lines(['ps', '--format', 'json']).join('\n')).toContain('"running"');
  });

  it('reset --force: no container, image, volume or network is left, and the store is empty', () => {
    ok(['volume', 'create', 'v2'], box);
    ok(['network', 'create', 'n2'], box);
    const answer = hutch(['system', 'reset'], { env: box.env, input: 'n\n' });
    expect(answer.stdout).toMatch(
      /^WARNING! This will remove:\n {8}- all containers\n[^]*Are you sure you want to continue\? \[y\/N\] $/,
    );
    expect(lines(['ps', '-q'])).toHaveLength(1);

    expect(hutch(['system', 'reset', '--force'], box)).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    expect(existsSync(storage) ? readdirSync(storage) : []).toEqual([]);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    expect(ok(['images', '-q'], box)).toBe('');
    expect(ok(['volume', 'ls', '-q'], box)).toBe('');
    expect(ok(['network', 'ls', '-q'], box)).toBe('');
  });
});
