/**
 * `hutch cp` end to end, as the unprivileged user, with podman 4.3's rules:
 * host to container and back for running, created and exited containers,
 * container to container, relative paths from the working directory, "DIR/."
 * and trailing slashes, symlinks followed inside the container only, owners
 * (--archive), --overwrite, tar archives on stdin and stdout, volumes and
 * binds of a stopped container, a tmpfs's copy-up, and podman's error
 * messages. Results are read back through the container (exec, start -a) and
 * with tar(1).
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('hutch cp', () => {
  let box: Sandbox;
  let work: string;
  let count = 0;

  /** A new host directory for one test. */
  function fresh(name: string): string {
    const dir = join(work, `${name}-${++count}`);
    mkdirSync(dir);
    return dir;
  }

  const sh = (container: string, script: string) => ok(['exec', container, 'sh', '-c', script], box);

  beforeAll(async () => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-cp-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
    ok(
      [
        'run',
        '-d',
        '--name',
        'live',
        '--workdir',
        '/srv',
        'busybox',
        'sh',
        '-c',
        'mkdir -p /srv/subdir /tmp/sub; echo in-live > /srv/file1; echo deep > /srv/subdir/file2;' +
          ' cd /tmp/sub && ln -s .. weirdlink; ln -s /nonesuch /tmp/dangling; touch /tmp/ready; sleep 1000',
      ],
      box,
    );
    for (let i = 0; i < 100 && hutch(['exec', 'live', 'test', '-e', '/tmp/ready'], box).status !== 0; i++) {
      spawnSync('sleep', ['0.05']);
    }
  });
  afterAll(() => {
    hutch(['rm', '-af'], box);
    box.dispose(work);
  });

  it('copies a file into a running container by the destination’s rules', () => {
    const host = fresh('in');
    writeFileSync(join(host, 'hostfile'), 'from the host\n');
    writeFileSync(join(host, 'dotfile.'), 'dot\n');
    const cases: [string, string][] = [
      ['/', '/hostfile'],
      ['/renamed.txt', '/renamed.txt'],
      ['/tmp', '/tmp/hostfile'],
      ['/tmp/.', '/tmp/hostfile'],
      // Relative to the working directory (--workdir /srv).
      ['.', '/srv/hostfile'],
      ['rel.txt', '/srv/rel.txt'],
      ['subdir', '/srv/subdir/hostfile'],
    ];
    for (const [destination, full] of cases) {
      ok(['cp', join(host, 'hostfile'), `live:${destination}`], box);
      expect(ok(['exec', 'live', 'cat', full], box), `cp -> live:${destination}`).toBe('from the host\n');
    }
    ok(['cp', join(host, 'dotfile.'), 'live:/tmp'], box);
    expect(ok(['exec', 'live', 'cat', '/tmp/dotfile.'], box)).toBe('dot\n');
    // A symlink into nowhere is followed: the file is made where it points.
    ok(['cp', join(host, 'hostfile'), 'live:/tmp/dangling'], box);
    expect(ok(['exec', 'live', 'cat', '/nonesuch'], box)).toBe('from the host\n');
  });

  it('copies directories: with their name, their content for DIR/., created when missing', () => {
    const host = fresh('dirs');
    mkdirSync(join(host, 'dir', 'sub'), { recursive: true });
    writeFileSync(join(host, 'dir', 'sub', 'f'), 'f\n');
    const cases: [string, string, string][] = [
      ['dir', '/tmp', '/tmp/dir/sub/f'],
      ['dir/', '/var', '/var/dir/sub/f'],
      ['dir/.', '/usr/', '/usr/sub/f'],
      ['dir/sub/.', 'subdir/.', '/srv/subdir/f'],
      ['dir', '/newdir1', '/newdir1/sub/f'],
      ['dir/.', '/newdir2', '/newdir2/sub/f'],
    ];
    for (const [source, destination, full] of cases) {
      // Not join(): it would drop the "/." and "/" that decide what is copied.
      ok(['cp', `${host}/${source}`, `live:${destination}`], box);
      expect(ok(['exec', 'live', 'cat', full], box), `cp ${source} -> live:${destination}`).toBe('f\n');
    }
  });

  it('copies out of a running container, relative paths from its working directory', () => {
    const host = fresh('out');
    ok(['cp', 'live:file1', `${host}/`], box);
    expect(readFileSync(join(host, 'file1'), 'utf8')).toBe('in-live\n');
    ok(['cp', 'live:subdir/file2', join(host, 'renamed')], box);
    expect(readFileSync(join(host, 'renamed'), 'utf8')).toBe('deep\n');
    ok(['cp', 'live:/srv', host], box);
    expect(readFileSync(join(host, 'srv', 'subdir', 'file2'), 'utf8')).toBe('deep\n');
    ok(['cp', 'live:/srv/.', join(host, 'content')], box);
    expect(readFileSync(join(host, 'content', 'subdir', 'file2'), 'utf8')).toBe('deep\n');
    // Files copied out belong to the user.
    expect(lstatSync(join(host, 'file1')).uid).toBe(process.getuid?.());
    // A symlink at SRC is followed inside the container: /tmp/sub/weirdlink is /tmp.
    ok(['cp', 'live:/tmp/sub/weirdlink', join(host, 'weird')], box);
    expect(readFileSync(join(host, 'weird', 'ready'), 'utf8')).toBe('');
    expect(readlinkSync(join(host, 'weird', 'sub', 'weirdlink'))).toBe('..');
  });

  it('copies between containers, running and created', () => {
    ok(['create', '--name', 'target', 'busybox', 'cat', '/from-live/subdir/file2', '/file1'], box);
    ok(['cp', 'live:/srv', 'target:/from-live'], box);
    ok(['cp', 'live:file1', 'target:/'], box);
    expect(ok(['start', '-a', 'target'], box)).toBe('deep\nin-live\n');
    // And back out of the exited one into the running one.
    ok(['cp', 'target:/from-live/subdir/.', 'live:/tmp/back'], box);
    expect(ok(['exec', 'live', 'cat', '/tmp/back/file2'], box)).toBe('deep\n');
  });

  it('copies into a created container, whose rootfs it mounts for the copy', () => {
    const host = fresh('created');
    writeFileSync(join(host, 'file'), 'before start\n');
    ok(['create', '--name', 'cold', '--workdir', '/home', 'busybox', 'cat', '/home/file'], box);
    ok(['cp', join(host, 'file'), 'cold:.'], box);
    expect(ok(['start', '-a', 'cold'], box)).toBe('before start\n');
    ok(['cp', 'cold:/home/file', join(host, 'back')], box);
    expect(readFileSync(join(host, 'back'), 'utf8')).toBe('before start\n');
  });

  it('gives files copied in to the container’s user; --archive=false keeps the ids they come with', () => {
    const host = fresh('owners');
    writeFileSync(join(host, 'file'), 'x\n');
    ok(['run', '-d', '--name', 'owned', '--user', '1000:1000', 'busybox', 'sleep', '1000'], box);
    ok(['cp', join(host, 'file'), 'owned:/tmp/as-user'], box);
    expect(ok(['exec', 'owned', 'stat', '-c', '%u:%g %a', '/tmp/as-user'], box)).toBe('1000:1000 644\n');
    ok(['cp', '-a=false', join(host, 'file'), 'owned:/tmp/kept'], box);
    expect(ok(['exec', 'owned', 'stat', '-c', '%u:%g', '/tmp/kept'], box)).toBe('0:0\n');
    const tar = join(host, 'a.tar');
    writeFileSync(join(host, 'a.txt'), '');
    const made = spawnSync('tar', ['--owner=1042', '--group=1043', '-C', host, '-cf', tar, 'a.txt']);
    expect(made.status).toBe(0);
    const result = spawnSync(hutchBin, ['cp', '--archive=false', '-', 'owned:/tmp/'], {
      env: box.env,
      input: readFileSync(tar),
    });
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(ok(['exec', 'owned', 'stat', '-c', '%u:%g', '/tmp/a.txt'], box)).toBe('1042:1043\n');
  });

  it('maps ids through a --userns=keep-id container’s own user namespace', () => {
    const host = fresh('keep-id');
    const uid = process.getuid?.() ?? 0;
    ok(['run', '-d', '--name', 'kept', '--userns', 'keep-id', 'busybox', 'sleep', '1000'], box);
    writeFileSync(join(host, 'file'), 'x\n');
    ok(['cp', join(host, 'file'), 'kept:/tmp/file'], box);
    expect(ok(['exec', 'kept', 'stat', '-c', '%u', '/tmp/file'], box)).toBe(`${uid}\n`);
    const tar = join(host, 'a.tar');
    writeFileSync(join(host, 'a.txt'), '');
    expect(spawnSync('tar', ['--owner=1042', '--group=1043', '-C', host, '-cf', tar, 'a.txt']).status).toBe(0);
    const result = spawnSync(hutchBin, ['cp', '-a=false', '-', 'kept:/tmp/'], {
      env: box.env,
      input: readFileSync(tar),
    });
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(ok(['exec', 'kept', 'stat', '-c', '%u:%g', '/tmp/a.txt'], box)).toBe('1042:1043\n');
  });

  it('unpacks a (compressed) tar from stdin into a directory, and refuses anything else', () => {
    const host = fresh('stdin');
    mkdirSync(join(host, 'tree', 'inner'), { recursive: true });
    writeFileSync(join(host, 'tree', 'inner', 'f'), 'from the tar\n');
    const tgz = join(host, 'tree.tgz');
    expect(spawnSync('tar', ['-C', host, '-czf', tgz, 'tree']).status).toBe(0);
    const cp = (args: string[], input: Buffer) => spawnSync(hutchBin, ['cp', ...args], { env: box.env, input });
    const done = cp(['-', 'live:/tmp'], readFileSync(tgz));
    expect(done.status, done.stderr.toString()).toBe(0);
    expect(ok(['exec', 'live', 'cat', '/tmp/tree/inner/f'], box)).toBe('from the tar\n');
    const refused = (args: string[], input: Buffer) => {
      const result = cp(args, input);
      expect(result.status).toBe(125);
      return result.stderr.toString().split('\n')[0];
    };
    expect(refused(['-', 'live:/tmp'], Buffer.from('not a tar\n'))).toBe(
      'Error: source must be a (compressed) tar archive when copying from stdin',
    );
    expect(refused(['-', 'live:/tmp'], Buffer.alloc(0))).toBe(
      'Error: source must be a (compressed) tar archive when copying from stdin',
    );
    expect(refused(['-', 'live:/srv/file1'], readFileSync(tgz))).toBe(
      'Error: destination must be a directory when copying from stdin',
    );
    expect(refused(['-', 'live:/tmp/IdoNotExist'], readFileSync(tgz))).toBe(
      'Error: destination must be a directory when copying from stdin',
    );
  });

  it('writes what a container path holds to stdout as a tar', () => {
    const host = fresh('stdout');
    const tarOf = (source: string) => {
      const out = join(host, 'out.tar');
      const result = spawnSync('sh', ['-c', `"$0" cp "$1" - > "$2"`, hutchBin, source, out], { env: box.env });
      expect(result.status, result.stderr.toString()).toBe(0);
      const list = spawnSync('tar', ['-tf', out], { encoding: 'utf8' });
      expect(list.status).toBe(0);
      return list.stdout.trim().split('\n');
    };
    sh(
      'live',
      'mkdir -p /tmp/tarme/d; echo a > /tmp/tarme/a; echo b > /tmp/tarme/d/b; ln /tmp/tarme/a /tmp/tarme/hard',
    );
    expect(tarOf('live:/tmp/tarme/a')).toEqual(['a']);
    expect(tarOf('live:/tmp/tarme')).toEqual(['tarme/', 'tarme/a', 'tarme/d/', 'tarme/d/b', 'tarme/hard']);
    expect(tarOf('live:/tmp/tarme/.')).toEqual(['a', 'd/', 'd/b', 'hard']);
    expect(fail(['cp', 'live:/srv/file1', '/dev/stdout'], box)).toBe(
      'Error: invalid destination: "/dev/stdout" must be a directory or a regular file',
    );
  });

  it('replaces a directory with a file, or the other way round, only with --overwrite', () => {
    const host = fresh('overwrite');
    ok(['run', '-d', '--name', 'ow', 'busybox', 'sh', '-c', 'mkdir /tmp/foo; touch /tmp/bar; sleep 1000'], box);
    writeFileSync(join(host, 'foo'), 'file over dir\n');
    mkdirSync(join(host, 'bar'));
    writeFileSync(join(host, 'bar', 'in'), 'dir over file\n');
    expect(fail(['cp', join(host, 'foo'), 'ow:/tmp'], box)).toBe(
      'Error: copying to container: error creating "/tmp/foo": open /tmp/foo: file exists',
    );
    expect(fail(['cp', join(host, 'bar'), 'ow:/tmp'], box)).toBe(
      'Error: copying to container: error creating "/tmp/bar": mkdir /tmp/bar: file exists',
    );
    ok(['cp', '--overwrite', join(host, 'foo'), 'ow:/tmp'], box);
    ok(['cp', '--overwrite', join(host, 'bar'), 'ow:/tmp'], box);
    expect(sh('ow', 'cat /tmp/foo /tmp/bar/in')).toBe('file over dir\ndir over file\n');
    // Out to the host the same: the path is named in the destination directory.
    mkdirSync(join(host, 'out', 'foo'), { recursive: true });
    expect(fail(['cp', 'ow:/tmp/foo', join(host, 'out')], box)).toBe(
      'Error: copying to host: error creating "/foo": open /foo: file exists',
    );
    ok(['cp', '--overwrite', 'ow:/tmp/foo', join(host, 'out')], box);
    expect(readFileSync(join(host, 'out', 'foo'), 'utf8')).toBe('file over dir\n');
  });

  it('copies into a stopped container’s volumes and binds, the innermost one winning', () => {
    const host = fresh('volumes');
    writeFileSync(join(host, 'hostfile'), 'into the volume\n');
    const bind = fresh('bind');
    ok(['volume', 'create', 'outer'], box);
    ok(['volume', 'create', 'inner'], box);
    const mountpoint = (name: string) => ok(['volume', 'inspect', '--format', '{{.Mountpoint}}', name], box).trim();
    ok(
      [
        'create',
        '--name',
        'vols',
        '-v',
        'outer:/data',
        '-v',
        'inner:/data/sub',
        '-v',
        `${bind}:/data/bound`,
        'busybox',
        'true',
      ],
      box,
    );
    ok(['cp', join(host, 'hostfile'), 'vols:/data/sub'], box);
    ok(['cp', join(host, 'hostfile'), 'vols:/data/bound/'], box);
    expect(readFileSync(join(mountpoint('inner'), 'hostfile'), 'utf8')).toBe('into the volume\n');
    expect(readFileSync(join(bind, 'hostfile'), 'utf8')).toBe('into the volume\n');
    expect(readdirSync(mountpoint('outer')).filter((n) => n !== 'sub' && n !== 'bound')).toEqual([]);
    ok(['cp', 'vols:/data/sub/hostfile', join(host, 'back')], box);
    expect(readFileSync(join(host, 'back'), 'utf8')).toBe('into the volume\n');
  });

  it('copies up into a tmpfs what a created container’s rootfs holds there', () => {
    const host = fresh('tmpfs');
    writeFileSync(join(host, 'file'), 'copied up\n');
    ok(['create', '--name', 'tmpfs', '--mount', 'type=tmpfs,dst=/tmp', 'busybox', 'sleep', '1000'], box);
    ok(['cp', join(host, 'file'), 'tmpfs:/tmp'], box);
    ok(['start', 'tmpfs'], box);
    expect(ok(['exec', 'tmpfs', 'cat', '/tmp/file'], box)).toBe('copied up\n');
    expect(sh('tmpfs', 'grep " /tmp " /proc/self/mountinfo | grep -c tmpfs')).toBe('1\n');
    // Into the running container's tmpfs, which its rootfs does not hold.
    ok(['cp', join(host, 'file'), 'tmpfs:/tmp/live'], box);
    expect(ok(['exec', 'tmpfs', 'cat', '/tmp/live'], box)).toBe('copied up\n');
    // notmpcopyup: the tmpfs starts empty.
    ok(['create', '--name', 'empty-tmpfs', '--tmpfs', '/home:notmpcopyup', 'busybox', 'ls', '-A', '/home'], box);
    expect(ok(['start', '-a', 'empty-tmpfs'], box)).toBe('');
  });

  it('never follows a link of the container out of it', () => {
    const outside = fresh('outside');
    writeFileSync(join(outside, 'secret'), 'host secret\n');
    const host = fresh('escape');
    writeFileSync(join(host, 'file'), 'x\n');
    sh('live', `mkdir -p ${outside}; ln -s ${outside} /escape; ln -s /../../../..${outside}/secret /secret-link`);
    ok(['cp', join(host, 'file'), 'live:/escape/pwned'], box);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(ok(['exec', 'live', 'cat', `${outside}/pwned`], box)).toBe('x\n');
    expect(fail(['cp', 'live:/secret-link', join(host, 'stolen')], box)).toBe(
      'Error: "/secret-link" could not be found on container live: no such file or directory',
    );
    expect(existsSync(join(host, 'stolen'))).toBe(false);
    // A host link named like a container path is the user's own: followed as the user asked.
    symlinkSync(join(outside, 'secret'), join(host, 'link'));
    ok(['cp', join(host, 'link'), 'live:/tmp/from-link'], box);
    expect(ok(['exec', 'live', 'cat', '/tmp/from-link'], box)).toBe('host secret\n');
  });

  it('says what is wrong as podman does, exit status 125', () => {
    const host = fresh('errors');
    writeFileSync(join(host, 'file'), 'x\n');
    expect(fail(['cp', join(host, 'IdoNotExist'), 'live:/tmp'], box)).toBe(
      `Error: "${join(host, 'IdoNotExist')}" could not be found on the host: no such file or directory`,
    );
    expect(fail(['cp', join(host, 'file'), 'live:/IdoNotExist/'], box)).toBe(
      'Error: "/IdoNotExist/" could not be found on container live: no such file or directory',
    );
    expect(fail(['cp', join(host, 'file'), 'live:/no/such/x'], box)).toBe(
      'Error: "/no/such/x" could not be found on container live: no such file or directory',
    );
    expect(fail(['cp', 'live:/tmp/*', host], box)).toBe(
      'Error: "/tmp/*" could not be found on container live: no such file or directory',
    );
    expect(fail(['cp', host, 'live:/srv/file1'], box)).toBe(
      'Error: destination must be a directory when copying a directory',
    );
    expect(fail(['cp', 'live:/srv', join(host, 'file')], box)).toBe(
      'Error: destination must be a directory when copying a directory',
    );
    expect(fail(['cp', 'live:/srv/file1', join(host, 'no', 'such')], box)).toBe(
      `Error: "${join(host, 'no', 'such')}" could not be found on the host: no such file or directory`,
    );
    expect(fail(['cp', join(host, 'file'), join(host, 'other')], box)).toBe('Error: name or ID cannot be empty');
    expect(fail(['cp', 'nosuch:/etc/passwd', host], box)).toBe('Error: container "nosuch" does not exist');
    expect(fail(['cp', join(host, 'file'), 'live:'], box)).toBe(
      `Error: invalid arguments "${join(host, 'file')}", "live:": you must specify paths`,
    );
    expect(fail(['cp', '-a=maybe', join(host, 'file'), 'live:/tmp'], box)).toBe(
      'Error: invalid argument "maybe" for "-a, --archive" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
  });
});
