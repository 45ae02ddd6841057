/**
 * The file system wrappers of the addon (mount, umount, openInRoot,
 * mkdirInRoot, renameat2) and the secure path helpers built on them, as
 * whoever runs the tests. Mounting needs root or a namespace: as root it is
 * tried here directly; as the unprivileged user inside the session through
 * test/fixtures/fs-runner.ts (bundled and run with `hutch unshare node`).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { encodeHeader } from '../../src/image/layer/tar-writer.js';
import { extractLayer } from '../../src/image/layer/extract.js';
import { AT_FDCWD, native, RENAME_NOREPLACE } from '../../src/native.js';
import { defaultDevices, defaultMaskedPaths, defaultReadonlyPaths } from '../../src/run/container/mount-defaults.js';
import { prepareRootfs } from '../../src/run/container/mount-prepare.js';
import { mountSteps } from '../../src/run/container/mount-steps.js';
import {
  cleanPath,
  ensureInRoot,
  locateInRoot,
  O_PATH,
  openInRoot,
  pathOfFd,
  UnsafePathError,
} from '../../src/fs/in-root.js';
import type { ContainerSpec, MountSpec } from '../../src/run/container/spec.js';
import { Mount, Plan, PlanOp } from '../../src/host/plan.js';
import { overlayOptions } from '../../src/run/rootfs/overlay.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch.js';
import { requires } from '../helpers/requires.js';
import { bundleForNode } from '../helpers/bundle.js';

/** Temp directories of this file, removed when it is done. */
const scratchDirs: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
// Run as root by scripts/test's root pass, as the user in the user pass (test/helpers/requires.ts).
const asRoot = requires('root');
const asUser = requires('unprivileged');

function thrown(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SyscallError);
    return error as SyscallError;
  }
  throw new Error('expected a SyscallError');
}

/** A tree with hostile links: absolute, climbing, and through /proc's magic links. */
function hostileRoot(): string {
  const root = scratch('hutch-inroot-');
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc', 'passwd'), 'inside\n');
  symlinkSync('/etc', join(root, 'abs'));
  symlinkSync('../../../../../../../../etc', join(root, 'climb'));
  mkdirSync(join(root, 'a', 'b'), { recursive: true });
  symlinkSync('/proc/self/root/etc', join(root, 'magic'));
  symlinkSync('/nowhere/file', join(root, 'dangling'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  return root;
}

describe('openInRoot', () => {
  const root = hostileRoot();

  function resolved(path: string): string {
    const fd = openInRoot(root, path, O_PATH);
    try {
      return pathOfFd(fd);
    } finally {
      closeSync(fd);
    }
  }

  it('resolves absolute symlinks, .. chains and climbing links inside the root', () => {
    expect(resolved('/abs/passwd')).toBe(join(root, 'etc', 'passwd'));
    expect(resolved('climb/passwd')).toBe(join(root, 'etc', 'passwd'));
    expect(resolved('a/b/../../../../../etc/passwd')).toBe(join(root, 'etc', 'passwd'));
    expect(resolved('/')).toBe(root);
    const fd = openInRoot(root, '/abs/passwd', O_RDONLY);
    expect(readFileSync(fd, 'utf8')).toBe('inside\n');
    closeSync(fd);
  });

  it('never reaches the host through /proc magic links', () => {
    // Inside the root, /proc is the tree's own (missing) directory.
    expect(thrown(() => openInRoot(root, 'magic/passwd', O_RDONLY)).code).toBe('ENOENT');
    // And a real magic link is refused outright.
    const error = thrown(() => native.openInRoot('/', '/proc/self/root/etc/passwd', O_RDONLY, 0));
    expect(error.code).toBe('ELOOP');
    const dirfd = openInRoot(root, '/', O_PATH | O_DIRECTORY);
    expect(thrown(() => native.openInRoot('/', `/proc/self/fd/${dirfd}`, O_PATH, 0)).code).toBe('ELOOP');
    closeSync(dirfd);
  });

  it('throws SyscallError naming openat2 and the path joined to the root', () => {
    const error = thrown(() => openInRoot(root, '/missing', O_RDONLY));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'openat2', path: join(root, 'missing') });
    expect(thrown(() => openInRoot(root, 'loop1', O_RDONLY)).code).toBe('ELOOP');
    expect(thrown(() => openInRoot(join(root, 'nope'), 'x', O_RDONLY))).toMatchObject({ syscall: 'open' });
  });

  it('validates arguments before any system call', () => {
    expect(() => native.openInRoot(root, 'a\0b', 0, 0)).toThrow(TypeError);
    expect(() => native.openInRoot(root, 'x', -5, 0)).toThrow(RangeError);
    expect(() => native.mkdirInRoot(root, '/', 0o755)).toThrow(TypeError);
    expect(() => native.mkdirInRoot(root, 'a/..', 0o755)).toThrow(TypeError);
    expect(() => native.mount(null, 5 as unknown as string, null, 0, null)).toThrow(TypeError);
  });
});

describe('mkdirInRoot and renameat2', () => {
  it('makes the directory where the root resolves its parent, never following the last component', () => {
    const root = hostileRoot();
    native.mkdirInRoot(root, '/abs/new', 0o755);
    expect(existsSync(join(root, 'etc', 'new'))).toBe(true);
    native.mkdirInRoot(root, 'climb/climbed', 0o755);
    expect(existsSync(join(root, 'etc', 'climbed'))).toBe(true);
    expect(thrown(() => native.mkdirInRoot(root, 'dangling', 0o755))).toMatchObject({
      code: 'EEXIST',
      syscall: 'mkdir',
      path: join(root, 'dangling'),
    });
    expect(existsSync('/nowhere')).toBe(false);
  });

  it('renameat2 RENAME_NOREPLACE refuses to replace', () => {
    const dir = scratch('hutch-rename-');
    writeFileSync(join(dir, 'a'), 'a');
    writeFileSync(join(dir, 'b'), 'b');
    expect(
      thrown(() => native.renameat2(AT_FDCWD, join(dir, 'a'), AT_FDCWD, join(dir, 'b'), RENAME_NOREPLACE)),
    ).toMatchObject({
      code: 'EEXIST',
      syscall: 'rename',
    });
    native.renameat2(AT_FDCWD, join(dir, 'a'), AT_FDCWD, join(dir, 'c'), RENAME_NOREPLACE);
    expect(readFileSync(join(dir, 'c'), 'utf8')).toBe('a');
  });
});

describe('secure paths (src/fs/in-root.ts)', () => {
  it('cleans container paths lexically', () => {
    expect(cleanPath('a//b/./c/../d/')).toBe('/a/b/d');
    expect(cleanPath('../../x')).toBe('/x');
    expect(cleanPath('')).toBe('/');
  });

  it('locates through links and reports what is missing', () => {
    const root = hostileRoot();
    expect(locateInRoot(root, '/abs/passwd')).toMatchObject({ path: '/etc/passwd', missing: [], followedLink: true });
    expect(locateInRoot(root, '/dangling')).toMatchObject({
      path: '/',
      missing: ['nowhere', 'file'],
      followedLink: true,
    });
    expect(locateInRoot(root, '/a/b/c')).toMatchObject({ path: '/a/b', missing: ['c'], followedLink: false });
  });

  it('makes mount points through dangling links inside the root only', () => {
    const root = hostileRoot();
    symlinkSync('/../../tmp/outside-hutch-test', join(root, 'etc', 'hosts'));
    const made = ensureInRoot(root, '/etc/hosts', 'file');
    expect(made).toEqual({ path: '/tmp/outside-hutch-test', created: ['/tmp', '/tmp/outside-hutch-test'] });
    expect(existsSync(join(root, 'tmp', 'outside-hutch-test'))).toBe(true);
    expect(existsSync('/tmp/outside-hutch-test')).toBe(false);
    expect(ensureInRoot(root, '/dangling', 'directory').path).toBe('/nowhere/file');
    expect(existsSync(join(root, 'nowhere', 'file'))).toBe(true);
    expect(existsSync('/nowhere')).toBe(false);
  });

  it('refuses a file where a directory is needed, links where none are allowed, and loops', () => {
    const root = hostileRoot();
    expect(() => ensureInRoot(root, '/etc/passwd/x', 'directory')).toThrow(UnsafePathError);
    expect(() => ensureInRoot(root, '/etc/passwd', 'directory')).toThrow(/is not a directory/);
    expect(() => ensureInRoot(root, '/etc', 'file')).toThrow(/is a directory, not a file/);
    expect(() => ensureInRoot(root, '/abs', 'directory', { noSymlinks: true, what: 'proc' })).toThrow(
      /^proc must be a directory, but \/abs -> \/etc is a symlink in /,
    );
    expect(() => ensureInRoot(root, '/loop1/x', 'directory')).toThrow(/too many levels of symbolic links/);
  });
});

describe('mount and umount', () => {
  it.skipIf(asUser.skip)('as an unprivileged user outside any namespace: EPERM, named', () => {
    const dir = scratch('hutch-mount-');
    const error = thrown(() => native.mount('tmpfs', dir, 'tmpfs', 0, null));
    expect(error).toMatchObject({ code: 'EPERM', syscall: 'mount', path: dir });
    expect(thrown(() => native.umount(dir, 0))).toMatchObject({ syscall: 'umount2', path: dir });
  });

  it.skipIf(asRoot.skip)('as root: a tmpfs mounted and unmounted in this namespace', () => {
    const dir = scratch('hutch-mount-');
    // Real root mounts in the host's namespace, as hutch does for root: a private temp dir, unmounted at once.
    native.mount('tmpfs', dir, 'tmpfs', 0, 'size=1m');
    try {
      expect(native.statfs(dir).type).toBe(0x01021994);
      writeFileSync(join(dir, 'x'), 'x');
    } finally {
      native.umount(dir, 0);
    }
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(thrown(() => native.umount(dir, 0)).code).toBe('EINVAL');
    rmSync(dir, { recursive: true });
  });

  describe.skipIf(requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built').skip)('inside the session', () => {
    let box: Sandbox;
    let work: string;
    let bundle: string;

    beforeAll(async () => {
      box = sandbox();
      work = scratch('hutch-fs-wrappers-');
      bundle = join(work, 'fs-runner.mjs');
      await bundleForNode({ entry: 'test/fixtures/fs-runner.ts' }, bundle);
    });

    afterAll(() => {
      if (work !== undefined && box !== undefined) hutch(['unshare', 'rm', '-rf', work], box);
      box?.dispose();
    });

    it('node mounts and unmounts in the session mount namespace; a busy mount says EBUSY', () => {
      const dir = join(work, 'mnt');
      mkdirSync(dir);
      const run = hutch(['unshare', 'node', bundle, 'mount-tmpfs', JSON.stringify({ dir })], box);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({
        type: 0x01021994,
        mounted: true,
        busy: 'EBUSY',
        unmounted: true,
        left: [],
        again: 'EINVAL umount2',
      });
      // The host's namespace never saw it.
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
      expect(spawnSync('sh', ['-c', `grep -c ${dir} /proc/self/mountinfo`], { encoding: 'utf8' }).stdout.trim()).toBe(
        '0',
      );
    });
  });
});

describe('tar headers (src/image/layer/tar-writer.ts)', () => {
  it('writes long names, long link targets and binary xattrs as PAX that the extractor reads back', async () => {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const long = `${'directory-name/'.repeat(12)}file-with-a-long-name-é`;
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0a, 0x3d]);
    const blocks = [
      encodeHeader({ name: 'd', type: 'directory', mode: 0o755, uid, gid, size: 0, mtime: 1_700_000_000 }),
      encodeHeader({
        name: long,
        type: 'file',
        mode: 0o640,
        uid,
        gid,
        size: 3,
        mtime: 1_600_000_000,
        xattrs: new Map([['user.bin', binary]]),
      }),
      Buffer.concat([Buffer.from('abc'), Buffer.alloc(509)]),
      encodeHeader({ name: 'd/link', type: 'symlink', mode: 0o777, uid, gid, size: 0, mtime: 0, linkname: `/${long}` }),
      Buffer.alloc(1024),
    ];
    const target = scratch('hutch-tar-');
    const stats = await extractLayer(Readable.from([Buffer.concat(blocks)]), target, { userXattrs: true });
    expect(stats.entries).toBe(3);
    expect(readFileSync(join(target, long), 'utf8')).toBe('abc');
    expect(native.getxattr(join(target, long), 'user.bin')).toEqual(binary);
    expect(readlinkSync(join(target, 'd', 'link'))).toBe(`/${long}`);
  });
});

describe('overlay options (src/run/rootfs/overlay.ts)', () => {
  function layers(count: number): { storage: string; lowers: string[] } {
    const storage = scratch('hutch-overlay-options-');
    const lowers = Array.from({ length: count }, (_, i) => {
      const diff = join(storage, 'layers', createHash('sha256').update(String(i)).digest('hex'), 'diff');
      mkdirSync(diff, { recursive: true });
      return diff;
    });
    return { storage, lowers };
  }
  const layout = (storage: string, lowers: string[]) => ({
    lowers,
    upper: join(storage, 'c', 'upper'),
    work: join(storage, 'c', 'work'),
    target: join(storage, 'c', 'merged'),
  });

  it('names layers by absolute short links, top first, while they fit in a page', () => {
    const { storage, lowers } = layers(3);
    const options = overlayOptions(layout(storage, lowers), { rootless: true });
    expect(options.cwd).toBeUndefined();
    const lowerdir = /^lowerdir=([^,]+),/.exec(options.data)?.[1]?.split(':') ?? [];
    expect(lowerdir).toHaveLength(3);
    expect(lowerdir.map((l) => readlinkSync(l))).toEqual(lowers.map((l) => `../${l.split('/').at(-2)}/diff`).reverse());
    expect(options.data).toMatch(/,upperdir=.*\/c\/upper,workdir=.*\/c\/work,userxattr$/);
    expect(overlayOptions(layout(storage, lowers), { rootless: false }).data).toMatch(
      /,redirect_dir=off,metacopy=off$/,
    );
    // A --rm container's upper is not synced: it goes when the container exits.
    expect(overlayOptions(layout(storage, lowers), { rootless: true, volatile: true }).data).toMatch(
      /,userxattr,volatile$/,
    );
  });

  it('goes relative to the layers directory when absolute links do not fit, and names the limit past it', () => {
    const many = layers(128);
    const relative = overlayOptions(layout(many.storage, many.lowers), { rootless: true });
    expect(relative.cwd).toBe(join(many.storage, 'layers'));
    expect(relative.data).toMatch(/^lowerdir=l\/[A-Z2-7]{20}:l\//);
    expect(relative.data).toMatch(/,upperdir=\.\.\/c\/upper,/);
    expect(Buffer.byteLength(relative.data)).toBeLessThan(4096);
    const tooMany = layers(200);
    expect(() => overlayOptions(layout(tooMany.storage, tooMany.lowers), { rootless: true })).toThrow(
      /^cannot mount 200 layers with overlayfs: even with short layer links its options take \d+ bytes, and mount\(2\) accepts 4095 \(one page\)$/,
    );
  });
});

describe('the mount plan as data (src/run/container/mount-prepare.ts, mount-steps.ts)', () => {
  function spec(rootfs: string, mounts: MountSpec[], network: 'new' | 'host' = 'new'): ContainerSpec {
    const etc = scratch('hutch-etc-');
    for (const f of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(etc, f), '');
    return {
      id: 'x',
      rootfs,
      readonlyRootfs: true,
      hostname: 'x',
      etcFiles: { hosts: join(etc, 'hosts'), hostname: join(etc, 'hostname'), resolvConf: join(etc, 'resolv.conf') },
      mounts,
      devices: [...defaultDevices],
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
      network: { mode: network } as ContainerSpec['network'],
      userNamespace: undefined,
      init: '/bin/sh',
      process: {
        args: ['sh'],
        env: [],
        cwd: '/',
        uid: 0,
        gid: 0,
        additionalGids: [],
        terminal: false,
        noNewPrivileges: true,
        capabilities: { bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
        seccomp: undefined,
        rlimits: [],
        umask: 0o022,
      },
    };
  }

  it("appends runc's order, with the child making mount points inside its own tmpfs", () => {
    const rootfs = scratch('hutch-rootfs-');
    const vol = scratch('hutch-vol-');
    const s = spec(rootfs, [
      { type: 'tmpfs', destination: '/cache', readonly: false, data: ['size=1m'], options: ['noexec'] },
      {
        type: 'bind',
        source: vol,
        destination: '/cache/sub/vol',
        readonly: true,
        recursive: true,
        options: ['nosuid'],
      },
    ]);
    s.process.cwd = '/cache/work';
    const prepared = prepareRootfs(s);
    const plan = new Plan();
    mountSteps(plan, s, prepared);
    const r = (p: string) => (p.startsWith(rootfs) ? `R${p.slice(rootfs.length)}` : p);
    const steps = plan.steps.map((step) => {
      const name = PlanOp[step.op];
      const [a, b, c] = step.str;
      if (step.op === PlanOp.Mount)
        return `${name} ${a === null ? '-' : r(a)} ${r(b as string)} ${c ?? '-'} ${step.num[0]}`;
      if (step.op === PlanOp.Symlink) return `${name} ${a} ${r(b as string)}`;
      return `${name} ${r(a ?? '')}`;
    });
    const { BIND, REC, REMOUNT, RDONLY, NOSUID, NODEV, NOEXEC, SLAVE, STRICTATIME } = Mount;
    const lockedRoot = prepared.rootLocked;
    const ro = BIND | REMOUNT | RDONLY;
    expect(steps.slice(0, 4)).toEqual([
      `Mount - / - ${REC | SLAVE}`,
      `Mount R R - ${BIND | REC}`,
      `Mount proc R/proc proc ${NOSUID | NOEXEC | NODEV}`,
      `Mount tmpfs R/dev tmpfs ${NOSUID | STRICTATIME}`,
    ]);
    const at = (line: string) => {
      const i = steps.indexOf(line);
      expect(i, `${line} in\n${steps.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [
      at('Mkdir R/dev/pts'),
      at(`Mount devpts R/dev/pts devpts ${NOSUID | NOEXEC}`),
      at(`Mount shm R/dev/shm tmpfs ${NOSUID | NODEV | NOEXEC}`),
      at(`Mount mqueue R/dev/mqueue mqueue ${NOSUID | NODEV | NOEXEC}`),
      at('Mknod R/dev/null'),
      at(`Mount /dev/null R/dev/null - ${BIND}`),
      at('Symlink /proc/self/fd R/dev/fd'),
      at('Symlink pts/ptmx R/dev/ptmx'),
      at(`Mount sysfs R/sys sysfs ${NOSUID | NOEXEC | NODEV | RDONLY}`),
      at(`Mount - R/etc/hosts - ${BIND}`.replace('Mount - ', `Mount ${s.etcFiles.hosts} `)),
      at(`Mount tmpfs R/cache tmpfs ${NOEXEC}`),
      at('Mkdir R/cache/sub'),
      at('Mkdir R/cache/sub/vol'),
      at(`Mount ${vol} R/cache/sub/vol - ${BIND | REC}`),
      at(`Mount - R/cache/sub/vol - ${ro | NOSUID | prepared.mounts[1]!.locked}`),
      at(`Mount /bin/sh R/run/hutch-init - ${BIND}`),
      at(`Mount - R/run/hutch-init - ${ro | prepared.init!.locked}`),
      at('Mkdir R/cache/work'),
      at(`Mount R/proc/sys R/proc/sys - ${BIND | REC}`),
      at(`Mount - R/proc/sys - ${ro | NOSUID | NODEV | NOEXEC}`),
      at(`Mount - R - ${ro | lockedRoot}`),
      at('Chdir R'),
      at('PivotRoot .'),
      at(`Mount - . - ${SLAVE | REC}`),
      at('Umount .'),
      at('Chdir /'),
    ];
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe('Chdir /');
    // Mount points in the image: made by prepareRootfs, listed for commit.
    expect(prepared.created).toEqual([
      '/proc',
      '/dev',
      '/sys',
      '/etc',
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
      '/cache',
      '/run',
      '/run/hutch-init',
    ]);
    expect(existsSync(join(rootfs, 'cache', 'sub'))).toBe(false);
  });

  it('refuses mounts it cannot make safe, before anything is mounted', () => {
    const rootfs = scratch('hutch-rootfs-');
    mkdirSync(join(rootfs, 'etc'));
    symlinkSync('/etc', join(rootfs, 'proc'));
    expect(() => prepareRootfs(spec(rootfs, []))).toThrow(
      /^the mount point of proc \(\/proc\) must be a directory, but \/proc -> \/etc is a symlink/,
    );
    const clean = scratch('hutch-rootfs-');
    const tmpfs = (destination: string): MountSpec => ({
      type: 'tmpfs',
      destination,
      readonly: false,
      data: [],
      options: [],
    });
    expect(() => prepareRootfs(spec(clean, [tmpfs('/proc/self')]))).toThrow(
      'tmpfs /proc/self: /proc/self is inside /proc, where nothing may be mounted',
    );
    expect(() => prepareRootfs(spec(clean, [tmpfs('/dev/fd/x')]))).toThrow(
      'tmpfs /dev/fd/x: /dev/fd is a symlink hutch makes',
    );
    expect(() => prepareRootfs(spec(clean, [tmpfs('/dev/pts/x')]))).toThrow(/inside \/dev\/pts \(devpts\)/);
    expect(() => prepareRootfs(spec(clean, [tmpfs('/etc/hosts/x')]))).toThrow(/inside \/etc\/hosts \(a file\)/);
    expect(() => prepareRootfs(spec(clean, [tmpfs('/sys')]))).toThrow(
      'mount 1: cannot mount over /sys: hutch mounts it itself',
    );
    expect(() =>
      prepareRootfs(
        spec(clean, [
          {
            type: 'bind',
            source: '/nonexistent-hutch',
            destination: '/x',
            readonly: false,
            recursive: true,
            options: [],
          },
        ]),
      ),
    ).toThrow('bind source /nonexistent-hutch does not exist');
  });

  it('host network: /sys bound recursively and every mount below it remounted read-only', () => {
    const rootfs = scratch('hutch-rootfs-');
    const s = spec(rootfs, [], 'host');
    const prepared = prepareRootfs(s);
    expect(prepared.sys.mode).toBe('bind');
    const below = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((p): p is string => p !== undefined && p.startsWith('/sys/'));
    expect(prepared.readonlySubmounts.map((m) => m.path)).toEqual([...new Set(below)].map((p) => join(rootfs, p)));
  });
});
