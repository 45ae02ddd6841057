/**
 * A container's file systems for real, inside the session, as the
 * unprivileged user: prepareRootfs and mountSteps on a busybox rootfs (made
 * with `hutch import`) in a plan child with its own mount, pid, uts, ipc and
 * network namespaces; hostile images; layer diffs of real overlay writes; cp
 * both ways; export. test/fixtures/fs-runner.ts does the in-session part.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountSpec } from '../../src/run/container/spec.js';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';
import { TarBuilder } from '../helpers/tar.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface ContainerResult {
  status?: { code: number | null; signal: number | null };
  failure?: string;
  output?: string;
  created?: string[];
  prepareError?: string;
  hint?: string;
  mountsAfter: string[];
}

/** The sections of a script's output, split at lines `== NAME`. */
function sections(output: string): Record<string, string> {
  const result: Record<string, string> = {};
  let current = '';
  for (const line of output.replace(/\n$/, '').split('\n')) {
    const match = /^== (\S+)$/.exec(line);
    if (match !== null) {
      current = match[1] as string;
      result[current] = '';
    } else if (current !== '') {
      result[current] += `${line}\n`;
    }
  }
  return result;
}

interface TarListing {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string | null;
  mtime: number;
  body: string;
  pax: Record<string, string> | undefined;
}

async function listTar(path: string): Promise<TarListing[]> {
  const entries: TarListing[] = [];
  const parser = extract();
  const feeding = pipeline(createReadStream(path), parser);
  for await (const entry of parser) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const h = entry.header;
    entries.push({
      name: h.name,
      type: h.type as string,
      mode: h.mode ?? 0,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      size: h.size ?? 0,
      linkname: h.linkname ?? null,
      mtime: (h.mtime as Date).getTime() / 1000,
      body: Buffer.concat(chunks).toString('utf8'),
      pax: h.pax as Record<string, string> | undefined,
    });
  }
  await feeding;
  return entries;
}

describe.skipIf(need.skip)('container file systems in the session', () => {
  let box: Sandbox;
  let work: string;
  let bundle: string;
  let storage: string;
  let busybox: string;
  let count = 0;

  function runner<T>(scenario: string, args: Record<string, unknown>): T {
    const run = hutch(['unshare', 'node', bundle, scenario, JSON.stringify(args)], box);
    if (run.status !== 0) throw new Error(`fs-runner ${scenario} failed (${run.status}): ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  }

  async function layer(tar: TarBuilder): Promise<string> {
    const file = join(work, `layer-${++count}.tar`);
    writeFileSync(file, await tar.toBuffer());
    return runner<{ path: string }>('unpack', { storage, tar: file }).path;
  }

  function fresh(name: string): string {
    const dir = join(work, `${name}-${++count}`);
    mkdirSync(dir);
    return dir;
  }

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    work = mkdtempSync(join(tmpdir(), 'hutch-container-fs-'));
    bundle = runnerBundle('fs-runner');
    const tar = await busyboxRootfsTar();
    ok(['import', tar, 'busybox'], box);
    busybox = join(storage, 'layers', createHash('sha256').update(readFileSync(tar)).digest('hex'), 'diff');
  });

  afterAll(() => {
    if (work !== undefined && box !== undefined) hutch(['unshare', 'rm', '-rf', work], box);
    box?.dispose();
  });

  const probeScript = [
    'echo "== mountinfo"; cat /proc/self/mountinfo',
    'echo "== dev"; ls -A /dev | sort | tr "\\n" " "; echo',
    'echo "== links"; for l in /dev/fd /dev/stdin /dev/ptmx; do readlink $l; done',
    'echo "== kcore"; wc -c < /proc/kcore',
    'echo "== timer"; wc -c < /proc/timer_list',
    'echo "== acpi"; ls -A /proc/acpi 2>&1 | wc -l',
    'echo "== procsys"; (echo x > /proc/sys/kernel/domainname) 2>&1; echo "rc=$?"',
    'echo "== sysrq"; (echo h > /proc/sysrq-trigger) 2>&1; echo "rc=$?"',
    'echo "== sys"; (mkdir /sys/kernel/hutch-test) 2>&1; echo "rc=$?"',
    'echo "== vol"; cat /vol/hello; echo written > /vol/new && echo wrote',
    'echo "== ro"; cat /ro/file; (echo x > /ro/new) 2>&1; echo "rc=$?"',
    'echo "== nested"; cat /vol/inner/marker',
    'echo "== tmpfs"; echo t > /scratch/t && cat /scratch/t; (cp /bin/busybox /scratch/bb && /scratch/bb true) 2>&1; echo "rc=$?"',
    'echo "== etc"; cat /etc/hosts /etc/hostname /etc/resolv.conf',
    'echo "== hostname"; hostname',
    'echo "== pid"; echo $$',
    'echo "== null"; echo x > /dev/null && head -c 4 /dev/zero | wc -c',
    'echo "== pts"; ls -ld /dev/pts /dev/shm /dev/mqueue | cut -c1-10',
    'echo "== root"; ls /',
    'echo "== write"; echo w > /written && echo root-writable',
  ].join('\n');

  it('mounts proc, dev, sys, the etc files, volumes and tmpfs in order; masked and read-only paths hold', () => {
    const vol = fresh('vol');
    writeFileSync(join(vol, 'hello'), 'hello from the host\n');
    const ro = fresh('ro');
    writeFileSync(join(ro, 'file'), 'read-only volume\n');
    const inner = fresh('inner');
    writeFileSync(join(inner, 'marker'), 'nested bind\n');
    const mounts: MountSpec[] = [
      { type: 'bind', source: vol, destination: '/vol', readonly: false, recursive: true, options: [] },
      { type: 'bind', source: ro, destination: '/ro', readonly: true, recursive: true, options: ['nosuid', 'nodev'] },
      { type: 'tmpfs', destination: '/scratch', readonly: false, data: ['size=4m', 'mode=1777'], options: ['noexec'] },
      // A mount point inside a bound directory: made in the volume, not in the image.
      { type: 'bind', source: inner, destination: '/vol/inner', readonly: true, recursive: false, options: [] },
    ];
    const result = runner<ContainerResult>('container', {
      lowers: [busybox],
      base: fresh('container'),
      mounts,
      script: probeScript,
    });
    expect(result.failure).toBeUndefined();
    expect(result.status).toMatchObject({ code: 0 });
    const out = sections(result.output as string);

    const lines = (out.mountinfo as string).split('\n').filter((l) => l !== '');
    const at = (point: string) => lines.findIndex((l) => l.split(' ')[4] === point);
    const line = (point: string) => lines[at(point)] ?? '';
    const order = [
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/dev/null',
      '/sys',
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
      '/vol',
      '/ro',
      '/scratch',
      '/vol/inner',
      '/proc/sys',
      '/proc/keys',
      ...(existsSync('/proc/kcore') ? ['/proc/kcore'] : []),
    ];
    for (const point of order) expect(at(point), `${point} in\n${out.mountinfo}`).toBeGreaterThanOrEqual(0);
    const indexes = order.map(at);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(line('/proc')).toMatch(/ \/proc rw,nosuid,nodev,noexec,\S* - proc /);
    expect(line('/dev')).toMatch(/ - tmpfs .*mode=755/);
    expect(line('/dev/pts')).toMatch(/ - devpts .*ptmxmode=666/);
    expect(line('/dev/shm')).toMatch(/ - tmpfs .*size=65536k/);
    expect(line('/dev/mqueue')).toMatch(/ - mqueue /);
    expect(line('/sys')).toMatch(/^\S+ \S+ \S+ \S+ \/sys ro,.* - sysfs /);
    expect(line('/ro')).toMatch(/ \/ro ro,nosuid,nodev/);
    expect(line('/vol')).toMatch(/ \/vol rw/);
    expect(line('/scratch')).toMatch(/ \/scratch rw,.*noexec.* - tmpfs .*size=4096k/);
    expect(line('/proc/sys')).toMatch(/ \/proc\/sys ro,/);
    expect(line('/')).toMatch(/ - overlay /);

    expect(out.dev?.trim().split(' ')).toEqual(
      [
        'core',
        'fd',
        'full',
        'mqueue',
        'null',
        'ptmx',
        'pts',
        'random',
        'shm',
        'stderr',
        'stdin',
        'stdout',
        'tty',
        'urandom',
        'zero',
      ].filter((d) => d !== 'core' || existsSync('/proc/kcore')),
    );
    expect(out.links).toBe('/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n');
    // Masked by /dev/null where the kernel has it (CONFIG_PROC_KCORE); absent otherwise.
    expect(out.kcore?.trim()).toMatch(existsSync('/proc/kcore') ? /^0$/ : /can't open|No such file/);
    expect(out.timer?.trim()).toBe('0');
    // Masked when the kernel has it; ls fails (one line of error) when it does not.
    expect(out.acpi?.trim()).toBe(existsSync('/proc/acpi') ? '0' : '1');
    expect(out.procsys).toMatch(/Read-only file system\nrc=1/);
    // Read-only where the kernel has it (CONFIG_MAGIC_SYSRQ).
    expect(out.sysrq).toMatch(existsSync('/proc/sysrq-trigger') ? /Read-only file system\nrc=1/ : /rc=1/);
    expect(out.sys).toMatch(/Read-only file system\nrc=1/);
    expect(out.vol).toBe('hello from the host\nwrote\n');
    expect(readFileSync(join(vol, 'new'), 'utf8')).toBe('written\n');
    expect(out.ro).toMatch(/^read-only volume\n.*Read-only file system\nrc=1\n$/s);
    expect(out.nested).toBe('nested bind\n');
    expect(existsSync(join(vol, 'inner'))).toBe(true);
    expect(out.tmpfs).toMatch(/^t\n.*Permission denied\nrc=126\n$/s);
    expect(out.etc).toBe('127.0.0.1 localhost box\nbox\nnameserver 10.0.2.3\n');
    expect(out.hostname).toBe('box\n');
    expect(out.pid).toBe('1\n');
    expect(out.null).toBe('4\n');
    // ls sorts: /dev/mqueue, /dev/pts, /dev/shm.
    expect(out.pts).toBe('drwxrwxrwt\ndrwxr-xr-x\ndrwxrwxrwt\n');
    expect(out.write).toBe('root-writable\n');
    // The mount points made in the image, for commit to leave out.
    expect(result.created).toEqual(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/vol', '/ro', '/scratch']);
    // Nothing of the container stays mounted in the session.
    expect(result.mountsAfter).toEqual([]);
  });

  it('host network: /sys is a read-only recursive bind, its submounts read-only too; --read-only and --init', () => {
    const script = [
      'echo "== sys"; (mkdir /sys/kernel/hutch-test) 2>&1; echo "rc=$?"',
      'echo "== sub"; grep -c " /sys/" /proc/self/mountinfo; grep " /sys/" /proc/self/mountinfo | grep -vc " ro,"',
      'echo "== root"; (touch /x) 2>&1; echo "rc=$?"',
      'echo "== init"; ls -l /run/hutch-init | cut -c1-10; grep " /run/hutch-init " /proc/self/mountinfo | cut -d" " -f6',
      'echo "== tmp"; echo t > /dev/shm/t && cat /dev/shm/t',
    ].join('\n');
    const result = runner<ContainerResult>('container', {
      lowers: [busybox],
      base: fresh('container'),
      network: 'host',
      readonlyRootfs: true,
      init: '/bin/busybox',
      script,
    });
    expect(result.failure).toBeUndefined();
    const out = sections(result.output as string);
    expect(out.sys).toMatch(/Read-only file system\nrc=1/);
    const [subs, writable] = (out.sub as string).trim().split('\n');
    expect(Number(subs)).toBeGreaterThan(0);
    expect(writable).toBe('0');
    expect(out.root).toMatch(/Read-only file system\nrc=1/);
    expect(out.init).toMatch(/^-rwxr-xr-x\nro,/);
    expect(out.tmp).toBe('t\n');
    expect(result.created).toContain('/run/hutch-init');
    expect(result.mountsAfter).toEqual([]);
  });

  it('refuses an image whose /proc is a symlink: nothing is mounted or made', async () => {
    const hostile = await layer(new TarBuilder().symlink('proc', '/etc'));
    const result = runner<ContainerResult>('container', {
      lowers: [busybox, hostile],
      base: fresh('container'),
      script: 'true',
    });
    expect(result.prepareError).toMatch(
      /^the mount point of proc \(\/proc\) must be a directory, but \/proc -> \/etc is a symlink in /,
    );
    expect(result.hint).toMatch(/symlinks/);
    expect(result.mountsAfter).toEqual([]);
  });

  it('follows a symlinked /etc/hosts inside the rootfs, never to the host', async () => {
    const outside = `/tmp/hutch-outside-${randomBytes(6).toString('hex')}`;
    const hostile = await layer(
      new TarBuilder()
        .dir('etc/')
        .symlink('etc/hosts', `/../..${outside}`)
        .symlink('etc/hostname', '../../../../../../../../..' + outside + '-2')
        .symlink('data', '/proc/self/root/tmp'),
    );
    const result = runner<ContainerResult>('container', {
      lowers: [busybox, hostile],
      base: fresh('container'),
      script: `echo "== hosts"; cat /etc/hosts; echo "== where"; ls ${outside} ${outside}-2`,
    });
    expect(result.failure).toBeUndefined();
    const out = sections(result.output as string);
    expect(out.hosts).toBe('127.0.0.1 localhost box\n');
    expect(out.where?.trim()).toBe(`${outside}\n${outside}-2`);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(`${outside}-2`)).toBe(false);
    expect(result.created).toEqual([outside, `${outside}-2`, '/etc/resolv.conf']);
  });

  it('refuses a volume whose destination leads into /proc through the image', async () => {
    const hostile = await layer(new TarBuilder().symlink('data', '/proc/sys'));
    const vol = fresh('vol');
    const result = runner<ContainerResult>('container', {
      lowers: [busybox, hostile],
      base: fresh('container'),
      mounts: [{ type: 'bind', source: vol, destination: '/data', readonly: false, recursive: true, options: [] }],
      script: 'true',
    });
    expect(result.prepareError).toBe('volume /data: /proc/sys is inside /proc, where nothing may be mounted');
    expect(result.mountsAfter).toEqual([]);
  });

  it('diffLayer: real overlay writes give the right tar, which unpacked over the lower gives the merged view again', async () => {
    const lower = await layer(
      new TarBuilder()
        .file('keep.txt', 'kept\n', { mode: 0o644 })
        .file('gone-later.txt', 'deleted\n')
        .dir('dir/', { mode: 0o755 })
        .file('dir/old', 'old\n')
        .dir('dir/sub/')
        .file('dir/sub/deep', 'deep\n')
        .file('other', 'other\n'),
    );
    const result = runner<{
      merged: Record<string, string>;
      remounted: Record<string, string>;
      flattened: Record<string, string>;
      xattr: string;
      tar: string;
      clamped: string;
      skipped: string;
      reproducible: boolean;
    }>('diff', { lowers: [lower], base: fresh('diff') });
    expect(result.remounted).toEqual(result.merged);
    expect(result.flattened).toEqual(result.merged);
    expect(result.xattr).toBe('kept');
    expect(result.reproducible).toBe(true);
    const entries = await listTar(result.tar);
    // Depth first, each directory's names in byte order; a whiteout where its name would be.
    expect(entries.map((e) => `${e.type} ${e.name}`)).toEqual([
      'file created.txt',
      'directory dir/',
      'file dir/.wh..wh..opq',
      'file dir/fresh',
      'file .wh.gone-later.txt',
      'file keep.txt',
      'directory mnt/',
      'directory newdir/',
      'file newdir/hard',
      'symlink newdir/link',
      'directory newdir/sub/',
      'link newdir/sub/a',
      'directory run/',
      'file run/hutch-init',
    ]);
    // Empty mount points made for the container stay out; a skipped path with content stays in.
    const skipped = (await listTar(result.skipped)).map((e) => e.name);
    expect(skipped).toEqual(entries.map((e) => e.name).filter((n) => !/^(mnt|run)\//.test(n)));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('keep.txt')).toMatchObject({ mode: 0o600, body: 'modified\n', uid: 0, gid: 0 });
    expect(byName.get('newdir/sub/a')?.linkname).toBe('newdir/hard');
    expect(byName.get('newdir/link')?.linkname).toBe('../keep.txt');
    expect(byName.get('newdir/hard')?.pax).toMatchObject({ 'SCHILY.xattr.user.note': 'kept' });
    // Overlay's own xattrs stay out of the layer.
    for (const e of entries) expect(Object.keys(e.pax ?? {}).filter((k) => k.includes('overlay'))).toEqual([]);
    const clamped = await listTar(result.clamped);
    expect(Math.max(...clamped.map((e) => e.mtime))).toBe(1_000_000_000);
  });

  it('cp trees: copies in and out; hostile tars and links never reach the host', async () => {
    const host = fresh('host');
    mkdirSync(join(host, 'in', 'sub'), { recursive: true });
    writeFileSync(join(host, 'in', 'file.txt'), 'from the host\n');
    writeFileSync(join(host, 'in', 'sub', 'deep.txt'), 'deep\n');
    symlinkSync('file.txt', join(host, 'in', 'link'));
    writeFileSync(join(host, 'secret'), 'host secret\n');
    const climbName = `hutch-climb-${randomBytes(6).toString('hex')}`;
    const throughLink = join(fresh('tars'), 'through-link.tar');
    writeFileSync(throughLink, await new TarBuilder().symlink('evil', host).file('evil/pwned', 'pwned\n').toBuffer());
    const hardlinkThroughLink = join(fresh('tars'), 'hardlink-through-link.tar');
    writeFileSync(
      hardlinkThroughLink,
      await new TarBuilder().symlink('etc-link', '/etc').hardlink('stolen', 'etc-link/shadow').toBuffer(),
    );
    const climbing = join(fresh('tars'), 'climbing.tar');
    writeFileSync(climbing, await new TarBuilder().file('../../../clamped.txt', 'clamped\n').toBuffer());
    const result = runner<Record<string, unknown> & { results: Record<string, string> }>('cp', {
      lowers: [busybox],
      base: fresh('cp'),
      host,
      climbName,
      throughLink,
      hardlinkThroughLink,
      climbing,
    });
    const r = result.results;
    expect(r['in-dir']).toBe('ok');
    expect(result.srvIn).toEqual({ uid: 0, gid: 0, mode: 0o644, content: 'from the host\n' });
    expect(result.srvNested).toMatchObject({ content: 'deep\n' });
    // Links inside what is copied stay links.
    expect(result.srvLink).toBe('file.txt');
    expect(r['in-contents']).toBe('ok');
    expect(result.contents).toMatchObject({ content: 'deep\n' });
    // /climb climbs above the root to /tmp: the container's /tmp, not the host's.
    expect(r['in-climb']).toBe('ok');
    expect(result.climbInside).toMatchObject({ content: 'from the host\n' });
    expect(result.hostClimb).toBe(false);
    // A member written through a link an earlier member made: refused, the link left as it was.
    expect(r['tar-through-link']).toMatch(/^error: error creating "\/srv\/evil": \/srv\/evil: not a directory$/);
    expect(result.evilLink).toBe(host);
    expect(result.hostPwned).toBe(false);
    // A hard link to a file reached through such a link: refused too (it would expose the container's /etc/shadow).
    expect(r['tar-hardlink-through-link']).toMatch(/^error: error creating "\/srv\/etc-link": .*not a directory$/);
    expect(result.stolen).toBe(false);
    // ".." cannot climb out of the destination: the name is cleaned as if it were "/".
    expect(r['tar-climbing']).toBe('ok');
    expect(result.clamped).toMatchObject({ content: 'clamped\n' });
    expect(r['tar-not-a-tar']).toBe('error: the input is not a (compressed) tar archive');
    // /escape/secret resolves inside the container, where there is none.
    expect(r['out-escape']).toMatch(/^error: .* missing .*\/secret$/);
    expect(r['out-srv']).toBe('ok');
    expect(result.outSrv).toBe(true);
    // Removing a directory that holds a link to the host's directory removes the link only.
    expect(r.remove).toBe('ok');
    expect(result.victimGone).toBe(true);
    expect(result.hostSecretKept).toBe(true);
    expect(result.hostListing).toEqual(['in', 'out-srv', 'secret']);
  });

  it('export: the merged tree, with the container changes, as a tar', async () => {
    const result = runner<{ tar: string }>('export', { lowers: [busybox], base: fresh('export') });
    const entries = await listTar(result.tar);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('written-in-container')?.body).toBe('hello\n');
    expect(byName.has('etc/shadow')).toBe(false);
    expect(byName.get('etc/passwd')?.body).toMatch(/^root:x:0:0:/);
    expect(byName.get('bin/busybox')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(byName.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    expect(byName.get('home/user/hello.txt')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o640 });
    expect(byName.get('tmp/')).toMatchObject({ type: 'directory', mode: 0o1777 });
    // Hard links of the image stay hard links.
    const links = entries.filter((e) => e.type === 'link');
    expect(links.length).toBeGreaterThan(0);
    expect(links.every((l) => l.linkname === 'bin/busybox')).toBe(true);
  });
});
