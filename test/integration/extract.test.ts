/**
 * Layer extraction for real: inside the session, as the unprivileged user.
 * test/fixtures/extract-runner.ts is bundled with esbuild and run with
 * `hutch unshare node BUNDLE …`; what it wrote is checked from outside.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExtractStats } from '../../src/image/layer/extract.js';
import type { Compression } from '../../src/image/media.js';
import { native } from '../../src/native.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch.js';
import { requires, subidRanges } from '../helpers/requires.js';
import { blocks, hostileLayers, paxHeader, TarBuilder, ustarHeader } from '../helpers/tar.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

const ownUid = process.getuid?.() as number;
const ownGid = process.getgid?.() as number;

/** Where an id of the namespace lands on the host: 0 is us, 1… the first subordinate range. */
function hostUid(id: number): number {
  return id === 0 ? ownUid : (subidRanges('/etc/subuid')[0] as { start: number }).start + id - 1;
}
function hostGid(id: number): number {
  return id === 0 ? ownGid : (subidRanges('/etc/subgid')[0] as { start: number }).start + id - 1;
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
  target: string;
  stats: ExtractStats;
  warnings: string[];
  seconds: number;
}

const MTIME = 1_700_000_000;

describe.skipIf(need.skip)('layer extraction in the session', () => {
  let box: Sandbox;
  let work: string;
  let bundle: string;
  let count = 0;

  beforeAll(() => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-extract-'));
    bundle = runnerBundle('extract-runner');
  });

  afterAll(() => {
    // The layers hold files of subordinate owners: only the session may remove them.
    if (work !== undefined) hutch(['unshare', 'rm', '-rf', work], box);
    box?.dispose();
  });

  async function extract(
    tar: TarBuilder | Buffer,
    options: { compression?: Compression; userXattrs?: boolean; name?: string; flush?: boolean } = {},
  ): Promise<Result> {
    const compression = options.compression ?? 'none';
    const name = options.name ?? `layer-${++count}`;
    let bytes = Buffer.isBuffer(tar) ? tar : await tar.toBuffer();
    if (compression === 'gzip') bytes = gzipSync(bytes);
    if (compression === 'zstd') bytes = spawnSync('zstd', ['-c', '-q'], { input: bytes, maxBuffer: 1 << 30 }).stdout;
    const file = join(work, `${name}.tar`);
    const target = join(work, name);
    writeFileSync(file, bytes);
    mkdirSync(target);
    // For timing: with ext4's data=ordered journal, creating files while
    // megabytes (the tar just written) are dirty waits for their writeback, and
    // the run would measure the disk rather than the extractor.
    if (options.flush === true) spawnSync('sync');
    const run = hutch(['unshare', 'node', bundle, file, target, String(options.userXattrs ?? true), compression], box);
    const parsed =
      run.status === 0
        ? (JSON.parse(run.stdout) as { stats: ExtractStats; warnings: string[]; seconds: number })
        : { stats: { entries: 0, bytes: 0, whiteouts: 0, skippedDevices: 0 }, warnings: [], seconds: 0 };
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, target, ...parsed };
  }

  function expectSuccess(result: Result): void {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }

  it('unpacks files, directories, links and fifos with their owners, modes, times and xattrs', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 123);
    // A VFS_CAP_REVISION_2 security.capability granting cap_net_raw (bit 13), effective.
    const capability = Buffer.alloc(20);
    capability.writeUInt32LE(0x02000001, 0);
    capability.writeUInt32LE(1 << 13, 4);
    const tar = new TarBuilder()
      .dir('./', { mode: 0o755, mtime: MTIME })
      .dir('etc/', { mode: 0o755, mtime: 1_600_000_000 })
      .file('etc/hostname', 'box\n', { mode: 0o644, mtime: 1_500_000_000, xattrs: { 'user.note': 'hello' } })
      .dir('usr/', { mode: 0o755 })
      .dir('usr/bin/', { mode: 0o755, mtime: 1_400_000_000 })
      .file('usr/bin/su', 'ELF su', { mode: 0o4755 })
      .file('usr/bin/wall', 'ELF wall', { mode: 0o2755, gid: 5 })
      .file('usr/bin/ping', 'ELF ping', { mode: 0o755, xattrs: { 'security.capability': capability } })
      .hardlink('usr/bin/su-again', 'usr/bin/su')
      .file('usr/lib/big.bin', big, { mode: 0o600 })
      .dir('home/u/', { uid: 1000, gid: 1000, mode: 0o751 })
      .dir('root/', { mode: 0o700 })
      .file('root/.profile', '', { mode: 0o600, uid: 1000 })
      .file('home/u/notes', 'mine', { uid: 1000, gid: 1000, mode: 0o640 })
      .symlink('home/u/link', '../../etc/hostname', { uid: 1000, gid: 1000, mtime: 1_300_000_000 })
      .dir('srv/shared/', { mode: 0o2775, gid: 1000 })
      .file('srv/shared/by-root', 'r', { mode: 0o644 })
      .dir('tmp/', { mode: 0o1777 })
      .file('etc/readonly', 'ro', { mode: 0o400 })
      .symlink('bin', 'usr/bin')
      .symlink('dangling', '/does/not/exist')
      .fifo('run/initctl', { mode: 0o600 })
      .file(`usr/share/${'long-directory-name/'.repeat(8)}file`, 'deep', { mode: 0o644 });
    const result = await extract(tar);
    expectSuccess(result);
    const at = (p: string) => join(result.target, p);

    expect(result.stats).toEqual({
      entries: tar.size,
      bytes: 4 + 6 + 8 + 8 + big.length + 4 + 1 + 2 + 4,
      whiteouts: 0,
      skippedDevices: 0,
    });
    expect(result.warnings).toEqual([]);

    // Owners: 0 is the user, 1000 the 1000th subordinate id.
    expect(statSync(at('etc/hostname')).uid).toBe(ownUid);
    expect(statSync(at('etc/hostname')).gid).toBe(ownGid);
    expect(statSync(at('home/u')).uid).toBe(hostUid(1000));
    expect(statSync(at('home/u/notes')).uid).toBe(hostUid(1000));
    expect(statSync(at('home/u/notes')).gid).toBe(hostGid(1000));
    expect(lstatSync(at('home/u/link')).uid).toBe(hostUid(1000));
    expect(statSync(at('usr/bin/wall')).gid).toBe(hostGid(5));
    // A root-owned file in a setgid directory keeps the group the tar says, not the directory's.
    expect(statSync(at('srv/shared')).gid).toBe(hostGid(1000));
    expect(statSync(at('srv/shared/by-root')).gid).toBe(ownGid);

    // Modes, setuid, setgid and sticky bits included (chmod comes after chown).
    const mode = (p: string) => lstatSync(at(p)).mode & 0o7777;
    expect(mode('usr/bin/su')).toBe(0o4755);
    expect(mode('usr/bin/wall')).toBe(0o2755);
    expect(mode('home/u')).toBe(0o751);
    expect(mode('root')).toBe(0o700);
    expect(statSync(at('root/.profile')).uid).toBe(hostUid(1000));
    expect(mode('home/u/notes')).toBe(0o640);
    expect(mode('srv/shared')).toBe(0o2775);
    expect(mode('tmp')).toBe(0o1777);
    expect(mode('etc/readonly')).toBe(0o400);
    expect(mode('usr/lib/big.bin')).toBe(0o600);
    expect(mode('')).toBe(0o755);

    // Content, streamed across many chunks.
    expect(readFileSync(at('etc/hostname'), 'utf8')).toBe('box\n');
    expect(readFileSync(at('usr/lib/big.bin')).equals(big)).toBe(true);
    expect(readFileSync(at(`usr/share/${'long-directory-name/'.repeat(8)}file`), 'utf8')).toBe('deep');

    // Links and a fifo.
    expect(readlinkSync(at('bin'))).toBe('usr/bin');
    expect(readlinkSync(at('dangling'))).toBe('/does/not/exist');
    expect(readlinkSync(at('home/u/link'))).toBe('../../etc/hostname');
    expect(statSync(at('usr/bin/su-again')).ino).toBe(statSync(at('usr/bin/su')).ino);
    expect(statSync(at('usr/bin/su')).nlink).toBe(2);
    expect(lstatSync(at('run/initctl')).isFIFO()).toBe(true);
    expect(mode('run/initctl')).toBe(0o600);

    // Times: directories keep theirs although children were written after them.
    expect(statSync(at('etc/hostname')).mtimeMs).toBe(1_500_000_000_000);
    expect(statSync(at('etc')).mtimeMs).toBe(1_600_000_000_000);
    expect(statSync(at('usr/bin')).mtimeMs).toBe(1_400_000_000_000);
    expect(statSync(at('')).mtimeMs).toBe(MTIME * 1000);
    expect(lstatSync(at('home/u/link')).mtimeMs).toBe(1_300_000_000_000);
    expect(lstatSync(at('usr/bin/su')).mtimeMs).toBe(MTIME * 1000);

    // xattrs: user.* as they were; the file capability rewritten by the kernel
    // for the namespace (VFS_CAP_REVISION_3, its root id the user's uid).
    expect(native.getxattr(at('etc/hostname'), 'user.note')?.toString()).toBe('hello');
    const cap = native.getxattr(at('usr/bin/ping'), 'security.capability');
    expect(cap).not.toBeNull();
    expect((cap as Buffer).readUInt32LE(0) >>> 24).toBe(3);
    expect((cap as Buffer).readUInt32LE(4)).toBe(1 << 13);
    expect((cap as Buffer).readUInt32LE(20)).toBe(ownUid);
  });

  it('skips device nodes with one warning, and overlay xattrs smuggled in a tar', async () => {
    const result = await extract(
      new TarBuilder()
        .charDevice('dev/null', 1, 3, { mode: 0o666 })
        .charDevice('dev/zero', 1, 5, { mode: 0o666 })
        .blockDevice('dev/sda', 8, 0)
        .hardlink('dev/null-again', 'dev/null')
        .fifo('dev/fifo')
        .dir('sneaky/', { xattrs: { 'user.overlay.opaque': 'y', 'user.ok': '1' } })
        .file('sneaky/f', '', { xattrs: { 'user.overlay.redirect': '/etc' } }),
    );
    expectSuccess(result);
    expect(result.stats.skippedDevices).toBe(4);
    const deviceWarnings = result.warnings.filter((w) => w.includes('device'));
    expect(deviceWarnings).toEqual([
      'skipped 4 device node(s) of this layer (first: dev/null): a user namespace may not create devices; containers get theirs from the runtime',
    ]);
    expect(existsSync(join(result.target, 'dev/null'))).toBe(false);
    expect(lstatSync(join(result.target, 'dev/fifo')).isFIFO()).toBe(true);
    expect(native.listxattr(join(result.target, 'sneaky'))).toEqual(['user.ok']);
    expect(native.listxattr(join(result.target, 'sneaky/f'))).toEqual([]);
    expect(result.warnings.filter((w) => w.includes('overlay metadata'))).toHaveLength(2);
  });

  it('lets later entries replace earlier ones', async () => {
    const result = await extract(
      new TarBuilder()
        .file('a', 'file first')
        .dir('a/', { mode: 0o750 })
        .file('a/inside', 'x')
        .dir('b/')
        .file('b/child', 'x')
        .file('b', 'a file now')
        .file('c', 'file')
        .symlink('c', 'elsewhere')
        .dir('d/', { mode: 0o700 })
        .file('d/kept', 'kept')
        .dir('d/', { mode: 0o755, uid: 1000, gid: 1000 })
        .file('e', 'old')
        .file('e', 'new', { mode: 0o600 })
        .symlink('f', '/etc')
        .file('f', 'no longer a symlink'),
    );
    expectSuccess(result);
    const at = (p: string) => join(result.target, p);
    expect(lstatSync(at('a')).isDirectory()).toBe(true);
    expect(lstatSync(at('a')).mode & 0o7777).toBe(0o750);
    expect(readFileSync(at('a/inside'), 'utf8')).toBe('x');
    expect(readFileSync(at('b'), 'utf8')).toBe('a file now');
    expect(readlinkSync(at('c'))).toBe('elsewhere');
    expect(readFileSync(at('d/kept'), 'utf8')).toBe('kept');
    expect(statSync(at('d')).uid).toBe(hostUid(1000));
    expect(statSync(at('d')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(at('e'), 'utf8')).toBe('new');
    expect(statSync(at('e')).mode & 0o7777).toBe(0o600);
    expect(lstatSync(at('f')).isFile()).toBe(true);
  });

  it('writes whiteouts and opaque directories that overlay understands', async () => {
    const lower = await extract(
      new TarBuilder()
        .file('gone', 'deleted above')
        .file('keep', 'kept')
        .dir('opq/')
        .file('opq/old', 'hidden above')
        .dir('dir/')
        .file('dir/x', 'x'),
      { name: 'lower' },
    );
    expectSuccess(lower);
    const upper = await extract(
      new TarBuilder()
        .whiteout('gone')
        .dir('opq/')
        .opaque('opq')
        .file('opq/new', 'new')
        .whiteout('dir')
        .file('.wh..wh.plnk/1.2', ''),
      { name: 'upper' },
    );
    expectSuccess(upper);
    expect(upper.stats.whiteouts).toBe(3);
    const gone = lstatSync(join(upper.target, 'gone'));
    expect(gone.isCharacterDevice()).toBe(true);
    expect(gone.rdev).toBe(0);
    expect(lstatSync(join(upper.target, 'dir')).isCharacterDevice()).toBe(true);
    expect(native.getxattr(join(upper.target, 'opq'), 'user.overlay.opaque')?.toString()).toBe('y');
    // AUFS metadata is not unpacked.
    expect(readdirSync(upper.target).sort()).toEqual(['dir', 'gone', 'opq']);
    expect(readdirSync(join(upper.target, 'opq'))).toEqual(['new']);

    const merged = join(work, 'merged');
    mkdirSync(merged);
    const script =
      `mount -t overlay overlay -o lowerdir=${upper.target}:${lower.target},userxattr ${merged} && ` +
      `ls -A ${merged}; echo --; ls -A ${merged}/opq; umount ${merged}`;
    const run = hutch(['unshare', 'sh', '-c', script], box);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('keep\nopq\n--\nnew\n');
  });

  it('unpacks gzip and zstd layers the same', async () => {
    const tar = new TarBuilder().dir('x/').file('x/a', 'A'.repeat(100_000)).file('x/b', 'b', { uid: 7, gid: 7 });
    for (const compression of ['gzip', 'zstd'] as const) {
      const result = await extract(tar, { compression });
      expectSuccess(result);
      expect(result.stats.entries).toBe(3);
      expect(readFileSync(join(result.target, 'x/a'), 'utf8')).toBe('A'.repeat(100_000));
      expect(statSync(join(result.target, 'x/b')).uid).toBe(hostUid(7));
    }
  });

  it('refuses owners the user namespace does not map, saying how to map more', async () => {
    const mapped = 1 + subidRanges('/etc/subuid').reduce((sum, r) => sum + r.count, 0);
    const result = await extract(new TarBuilder().dir('usr/bin/').file('usr/bin/x', '', { uid: 200000 }));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `layer file usr/bin/x is owned by uid 200000, beyond the ${mapped} ids your user namespace maps`,
    );
    expect(result.stderr).toMatch(/hint: give your user more subordinate ids in \/etc\/subuid and \/etc\/subgid/);
    const group = await extract(new TarBuilder().file('g', '', { gid: 4_000_000 }));
    expect(group.stderr).toContain('layer file g is owned by gid 4000000, beyond');
  });

  it('rejects hostile layers and writes nothing outside the target', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'secret');
    for (const layer of hostileLayers(outside, '../outside')) {
      const result = await extract(layer.tar);
      if (layer.rejects === undefined) {
        expect(result.stderr, layer.name).toBe('');
        expect(result.status, layer.name).toBe(0);
      } else {
        expect(result.status, layer.name).toBe(1);
        expect(result.stderr, layer.name).toMatch(layer.rejects);
      }
    }
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(lstatSync(join(outside, 'secret')).nlink).toBe(1);
    expect(statSync(outside).uid).toBe(ownUid);
    expect(native.listxattr(outside)).toEqual([]);
  });

  it('the symlink-then-directory case leaves a real directory inside the layer', async () => {
    const outside = join(work, 'outside-2');
    mkdirSync(outside);
    const layer = hostileLayers(outside, '../outside-2').find((l) => l.rejects === undefined) as { tar: TarBuilder };
    const result = await extract(layer.tar);
    expectSuccess(result);
    expect(lstatSync(join(result.target, 'd')).isDirectory()).toBe(true);
    expect(readFileSync(join(result.target, 'd/pwned-dir'), 'utf8')).toBe('x');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('reads GNU long names, base-256 numbers, old formats and PAX records, and skips global headers', async () => {
    const longName = `gnu/${'n'.repeat(150)}/file`;
    const longTarget = `gnu/${'t'.repeat(150)}`;
    const tar = new TarBuilder()
      .dir('gnu/')
      .file(longTarget, 'target')
      .raw(
        Buffer.concat([
          ustarHeader({ name: 'pax_global_header', typeflag: 'g', size: 20 }),
          blocks('20 comment=ignored\n'),
          // GNU tar's long names: an 'L' member whose body is the next member's name.
          ustarHeader({ name: '././@LongLink', typeflag: 'L', size: longName.length + 1, format: 'gnu' }),
          blocks(`${longName}\0`),
          ustarHeader({
            name: longName.slice(0, 100),
            typeflag: '0',
            size: 4,
            format: 'gnu',
            uid: 1000,
            gid: 1000,
            base256: true,
          }),
          blocks('long'),
          ustarHeader({ name: '././@LongLink', typeflag: 'K', size: longTarget.length + 1, format: 'gnu' }),
          blocks(`${longTarget}\0`),
          ustarHeader({ name: 'gnu/hard', typeflag: '1', linkname: longTarget.slice(0, 100), format: 'gnu' }),
          // Version 7: no magic, a directory told by its trailing slash.
          ustarHeader({ name: 'v7dir/', typeflag: '\0', mode: 0o750, format: 'v7' }),
          // PAX: owner and time beyond what the header fields say.
          paxHeader([
            ['uid', Buffer.from('2000')],
            ['gid', Buffer.from('3000')],
            ['mtime', Buffer.from('1234567890.5')],
          ]),
          ustarHeader({ name: 'paxfile', typeflag: '0', size: 3 }),
          blocks('pax'),
        ]),
      );
    const result = await extract(tar);
    expectSuccess(result);
    const at = (p: string) => join(result.target, p);
    expect(result.stats.entries).toBe(6);
    expect(readFileSync(at(longName), 'utf8')).toBe('long');
    expect(statSync(at(longName)).uid).toBe(hostUid(1000));
    expect(statSync(at(longName)).gid).toBe(hostGid(1000));
    expect(statSync(at('gnu/hard')).ino).toBe(statSync(at(longTarget)).ino);
    expect(lstatSync(at('v7dir')).isDirectory()).toBe(true);
    expect(lstatSync(at('v7dir')).mode & 0o7777).toBe(0o750);
    expect(statSync(at('paxfile')).uid).toBe(hostUid(2000));
    expect(statSync(at('paxfile')).gid).toBe(hostGid(3000));
    expect(statSync(at('paxfile')).mtimeMs).toBe(1_234_567_890_500);
  });

  it('refuses tar types it cannot unpack', async () => {
    const sparse = await extract(
      new TarBuilder().raw(Buffer.concat([ustarHeader({ name: 'holes', typeflag: 'S', size: 0, format: 'gnu' })])),
    );
    expect(sparse.status).toBe(1);
    expect(sparse.stderr).toContain(
      'layer entry "holes" has tar type S (a GNU sparse file), which hutch cannot unpack',
    );
    const paxSparse = await extract(
      new TarBuilder().raw(
        Buffer.concat([
          paxHeader([['GNU.sparse.major', Buffer.from('1')]]),
          ustarHeader({ name: 'holes', typeflag: '0', size: 0 }),
        ]),
      ),
    );
    expect(paxSparse.stderr).toContain('layer entry "holes" is a GNU sparse file, which hutch cannot unpack');
  });

  it('refuses, as malformed, what the fuzzer found crashing the kernel calls (test/fuzz/tar.test.ts)', async () => {
    const cases: [string, Buffer, string][] = [
      [
        'a symbolic link to an empty name (symlink(2): ENOENT)',
        ustarHeader({ name: 'link', typeflag: '2', linkname: '' }),
        'layer entry "link" is a symbolic link to an empty name',
      ],
      [
        'a symbolic link to a name with a NUL byte (from PAX)',
        Buffer.concat([
          paxHeader([['linkpath', Buffer.from('a\0b')]]),
          ustarHeader({ name: 'link', typeflag: '2', linkname: 'x' }),
        ]),
        'layer entry "link" is a symbolic link to a name with a NUL byte',
      ],
      [
        'an xattr with an empty name (setxattr(2): EINVAL)',
        Buffer.concat([
          paxHeader([['SCHILY.xattr.', Buffer.from('v')]]),
          ustarHeader({ name: 'f', typeflag: '0', size: 0 }),
        ]),
        'layer entry "f" has an xattr named "", which no file can have',
      ],
      [
        'a security.capability the kernel cannot read (setxattr(2): EINVAL)',
        Buffer.concat([
          paxHeader([['SCHILY.xattr.security.capability', Buffer.from('1')]]),
          ustarHeader({ name: 'f', typeflag: '0', size: 0 }),
        ]),
        'layer entry "f" has an xattr security.capability whose value the kernel refuses (EINVAL',
      ],
      [
        'a PAX time beyond 2^53 seconds (utimensat(2): EINVAL)',
        Buffer.concat([paxHeader([['mtime', Buffer.from('1e300')]]), ustarHeader({ name: 'f', typeflag: '0' })]),
        'layer tar is corrupt: PAX mtime is not a number',
      ],
      [
        'a header time beyond 2^53 seconds (base 256)',
        ustarHeader({ name: 'f', typeflag: '0', mtime: 2 ** 60, base256: true }),
        'layer entry "f" has a bad time (header at byte 0)',
      ],
      [
        'a PAX uid Number() reads but Go does not (0x10)',
        Buffer.concat([paxHeader([['uid', Buffer.from('0x10')]]), ustarHeader({ name: 'f', typeflag: '0' })]),
        'layer tar is corrupt: PAX uid is not a number',
      ],
    ];
    for (const [what, bytes, message] of cases) {
      const result = await extract(Buffer.concat([bytes, Buffer.alloc(1024)]));
      expect(result.status, what).toBe(1);
      expect(result.stderr, what).toContain(message);
      expect(result.stderr, what).not.toMatch(/TypeError|EINVAL: invalid argument, futime|ENOENT/);
    }
  });

  it('rejects corrupt and truncated tars', async () => {
    const good = await new TarBuilder().file('a', randomBytes(2000)).file('b', 'y').toBuffer();
    const truncated = await extract(good.subarray(0, 1024));
    expect(truncated.status).toBe(1);
    expect(truncated.stderr).toContain('layer tar ends in the middle of entry "a"');
    const corrupt = Buffer.from(good);
    corrupt[10] = 0x41;
    const bad = await extract(corrupt);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('layer tar is corrupt: bad header checksum at byte 0');
    const compressed = await extract(gzipSync(good));
    expect(compressed.stderr).toContain('(is it still compressed?)');
  });

  it('unpacks 20,000 small files at speed', async () => {
    const tar = new TarBuilder();
    for (let d = 0; d < 200; d++) {
      tar.dir(`usr/share/d${d}/`, { mode: 0o755 });
      for (let f = 0; f < 100; f++)
        tar.file(`usr/share/d${d}/f${f}.txt`, `file ${d}/${f}\n`.repeat(10), { mode: 0o644 });
    }
    const result = await extract(tar, { name: 'many', flush: true });
    expectSuccess(result);
    expect(result.stats.entries).toBe(20_200);
    const rate = Math.round(result.stats.entries / result.seconds);
    console.log(`extracted ${result.stats.entries} entries in ${result.seconds.toFixed(2)} s: ${rate} entries/s`);
    expect(readFileSync(join(result.target, 'usr/share/d199/f99.txt'), 'utf8')).toBe('file 199/99\n'.repeat(10));
  });
});
