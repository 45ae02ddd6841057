/**
 * A container's mounts, in two halves:
 *
 * - prepareRootfs(spec) runs in node (root of the session's user namespace, in
 *   its mount namespace) before the container starts. It makes every mount
 *   point inside the rootfs (and inside bind-mounted directories) with in-root
 *   resolution (paths.ts), so a symlink of the image never leads a mount or a
 *   mkdir outside the tree; it refuses what cannot be made safe, and records
 *   the facts the child cannot look up itself: resolved targets, the flags each
 *   bind source's mount has (a user namespace must keep them on a remount),
 *   which masked paths exist and whether they are files or directories.
 *
 * - mountSteps(plan, spec, prepared) appends the steps the container's child
 *   runs after clone(CLONE_NEWNS), in runc's order (libcontainer/rootfs_linux.go):
 *   / made rslave, the rootfs bound onto itself, /proc, /dev (tmpfs, devices,
 *   links, devpts, shm, mqueue), /sys and /sys/fs/cgroup, the /etc files,
 *   volumes and tmpfs in the order given, the init binary, read-only paths,
 *   masked paths, a read-only root, then pivot_root(".", ".") and the old root
 *   detached. The child runs raw system calls only, so every path here is final.
 *
 * Mount targets are paths: the plan mounts by path, not by an fd opened in the
 * root, so the safety of a target rests on nothing changing it between
 * prepareRootfs and the child's mount. Nothing else writes there then: the
 * container has not started, and the tree is the user's own.
 */
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { HutchError } from '../../errors.js';
import { native } from '../../native.js';
import { parseMountinfo, type MountInfo } from '../../host/mountinfo.js';
import { parseIdMap } from '../../host/identity.js';
import { MNT_DETACH, Mount, type Plan } from '../../host/plan.js';
import {
  cleanPath,
  createLocated,
  hostJoin,
  isWithin,
  locateInRoot,
  realRoot,
  UnsafePathError,
  type EntryKind,
} from '../../fs/in-root.js';
import type { ContainerSpec, MountSpec } from './spec.js';

/** runc's default masked paths (and podman's): hidden behind /dev/null or an empty read-only tmpfs. */
export const defaultMaskedPaths: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** runc's default read-only paths: bound onto themselves, then remounted read-only. */
export const defaultReadonlyPaths: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** Host device nodes bound into /dev (a user namespace cannot mknod them). */
export const defaultDevices: readonly string[] = [
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom',
  '/dev/tty',
];

/** /dev's symlinks, as runc makes them (core only when the kernel has /proc/kcore). */
const DEV_LINKS: readonly [string, string][] = [
  ['/proc/self/fd', 'fd'],
  ['/proc/self/fd/0', 'stdin'],
  ['/proc/self/fd/1', 'stdout'],
  ['/proc/self/fd/2', 'stderr'],
  ['pts/ptmx', 'ptmx'],
];

/**
 * Files of /proc a volume may be mounted over (runc's list: lxcfs provides
 * them); every other destination inside /proc is refused.
 */
const PROC_MOUNTABLE = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
]);

const MS_SHARED = 1 << 20;
const MS_UNBINDABLE = 1 << 17;
/** Flags a mount in a user namespace may have locked: a remount must keep them (mount_namespaces(7)). */
const LOCKABLE = Mount.RDONLY | Mount.NOSUID | Mount.NODEV | Mount.NOEXEC;
const PROC_FLAGS = Mount.NOSUID | Mount.NOEXEC | Mount.NODEV;
const SYSFS_FLAGS = Mount.NOSUID | Mount.NOEXEC | Mount.NODEV | Mount.RDONLY;
const TMPFS_DEV_DATA = 'mode=755,size=65536k';
const SHM_DATA = 'mode=1777,size=65536k';

export interface MountEnvironment {
  /** The child has a cgroup namespace of its own: cgroup2 is mounted (read-only) at /sys/fs/cgroup. Default false. */
  cgroupNamespace?: boolean;
  /** The child has an IPC namespace of its own: a fresh mqueue at /dev/mqueue (else the host's is bound). Default true. */
  privateIpc?: boolean;
}

/** Where the child mounts, and what it must create first (inside a tmpfs it mounted itself). */
export interface Target {
  /** The host path as the child sees it before pivot_root: the rootfs prefix plus the resolved path. */
  path: string;
  /** Mount points the child makes (mkdir, or mknod of an empty file), parents first. */
  make: { path: string; kind: EntryKind }[];
}

export interface PreparedBind {
  source: string;
  target: Target;
  /** RDONLY | NOSUID | NODEV | NOEXEC of the mount the source is on (statfs), kept on a remount. */
  locked: number;
}

export interface PreparedRootfs {
  /** spec.rootfs with the host path's symlinks resolved. */
  root: string;
  /** The lockable flags of the rootfs's own mount (kept when --read-only remounts it). */
  rootLocked: number;
  proc: Target;
  dev: Target;
  devpts: { target: Target; gid: number | undefined };
  /** undefined when a mount of the spec replaces it. */
  shm: Target | undefined;
  mqueue: { target: Target; mode: 'mqueue' | 'bind' } | undefined;
  devices: PreparedBind[];
  devLinks: { target: string; path: string }[];
  sys: { target: Target; mode: 'sysfs' | 'bind' };
  cgroup: { target: Target; mode: 'cgroup2' | 'bind' | 'inherited' };
  /** Mounts below /sys (or /sys/fs/cgroup) a recursive bind copies: each is remounted read-only too. */
  readonlySubmounts: { path: string; locked: number }[];
  etcFiles: PreparedBind[];
  /** One per spec.mounts entry, in order. */
  mounts: (PreparedBind & { spec: MountSpec })[];
  init: PreparedBind | undefined;
  /** spec.process.cwd, made when missing (as runc and crun do); the caller's plan chdirs there after pivot_root. */
  cwd: Target;
  readonlyPaths: { path: string; locked: number }[];
  maskedPaths: { path: string; kind: EntryKind }[];
  /**
   * Paths (inside the container) created in the rootfs as mount points: a
   * commit leaves them out of the layer when they are still empty.
   */
  created: string[];
  environment: Required<MountEnvironment>;
}

// ---------------------------------------------------------------------------
// What covers a path at the moment a mount is made, as the child will see it.

type Cover =
  /** A directory tree whose content is on the host: the rootfs, or a bound directory. */
  | { kind: 'tree'; dest: string; root: string; hostPath: string; isRootfs: boolean }
  /** A tmpfs the child mounts: it makes its own mount points there. */
  | { kind: 'fresh'; dest: string; hostPath: string; reserved: ReadonlySet<string> }
  /** proc or sysfs: only what the kernel has is there (checked on the host's instance). */
  | {
      kind: 'kernel';
      dest: string;
      hostPath: string;
      hostSource: string;
      allow: ((dest: string) => boolean) | undefined;
    }
  /** A file, devpts, mqueue, cgroup: nothing can be mounted below it. */
  | { kind: 'closed'; dest: string; what: string };

class MountTree {
  private readonly covers: Cover[] = [];
  readonly created: string[] = [];

  constructor(readonly root: string) {
    this.covers.push({ kind: 'tree', dest: '/', root, hostPath: root, isRootfs: true });
  }

  add(cover: Cover): void {
    this.covers.push(cover);
  }

  /** The cover a path is under: the last mount made at or above it hides the earlier ones. */
  private coverOf(dest: string): Cover {
    for (let i = this.covers.length - 1; i >= 0; i--) {
      const cover = this.covers[i] as Cover;
      if (isWithin(dest, cover.dest)) return cover;
    }
    return this.covers[0] as Cover;
  }

  /**
   * The target of a mount at dest, its mount point made where it can be made
   * now (in a tree) or listed for the child (in a tmpfs). A symlink of a tree
   * that leads into another mount (an image's /data -> /proc) resolves there.
   */
  target(dest: string, kind: EntryKind, what: string, options: { noSymlinks?: boolean } = {}): Target {
    let current = cleanPath(dest);
    for (let round = 0; round < 16; round++) {
      const cover = this.coverOf(current);
      const rel = relativeTo(cover.dest, current);
      switch (cover.kind) {
        case 'tree': {
          const located = locateInRoot(cover.root, rel);
          const final = cleanPath([located.path, ...located.missing].join('/'));
          const finalDest = cleanPath(`${cover.dest}/${final}`);
          if (this.coverOf(finalDest) !== cover) {
            if (options.noSymlinks === true) {
              throw new UnsafePathError(
                `${what} must be a directory, but ${current} leads to ${finalDest} through a symlink`,
              );
            }
            current = finalDest;
            continue;
          }
          const ensured = createLocated(cover.root, rel, located, kind, { ...options, what });
          if (cover.isRootfs) this.created.push(...ensured.created);
          return { path: hostJoin(cover.hostPath, ensured.path), make: [] };
        }
        case 'fresh': {
          const parts = rel.split('/').filter((p) => p !== '');
          if (parts[0] !== undefined && cover.reserved.has(parts[0])) {
            throw new UnsafePathError(`${what}: ${cleanPath(`${cover.dest}/${parts[0]}`)} is a symlink hutch makes`);
          }
          const make = parts.map((_, i) => ({
            path: hostJoin(cover.hostPath, `/${parts.slice(0, i + 1).join('/')}`),
            kind: i === parts.length - 1 ? kind : ('directory' as EntryKind),
          }));
          return { path: hostJoin(cover.hostPath, rel), make };
        }
        case 'kernel': {
          if (cover.allow !== undefined && !cover.allow(current)) {
            throw new UnsafePathError(`${what}: ${current} is inside ${cover.dest}, where nothing may be mounted`);
          }
          const host = hostJoin(cover.hostSource, rel);
          checkKernelPath(host, kind, what, current);
          return { path: hostJoin(cover.hostPath, rel), make: [] };
        }
        case 'closed':
          throw new UnsafePathError(
            `${what}: ${current} is inside ${cover.dest} (${cover.what}), where nothing may be mounted`,
          );
      }
    }
    throw new UnsafePathError(`${what}: ${cleanPath(dest)} goes through too many symlinks between mounts`);
  }

  /**
   * Where an existing path is, for masked and read-only paths: undefined when
   * it does not exist (or is inside a tmpfs the child makes).
   */
  existing(dest: string): { path: string; kind: EntryKind; locked: number } | undefined {
    const current = cleanPath(dest);
    const cover = this.coverOf(current);
    const rel = relativeTo(cover.dest, current);
    switch (cover.kind) {
      case 'kernel': {
        const host = hostJoin(cover.hostSource, rel);
        const stat = lstatSync(host, { throwIfNoEntry: false });
        if (stat === undefined || stat.isSymbolicLink()) return undefined;
        const locked = cover.dest === '/proc' ? PROC_FLAGS : SYSFS_FLAGS;
        return { path: hostJoin(cover.hostPath, rel), kind: stat.isDirectory() ? 'directory' : 'file', locked };
      }
      case 'tree': {
        const located = locateInRoot(cover.root, rel);
        if (located.missing.length > 0 || located.stat === undefined || located.followedLink) return undefined;
        return {
          path: hostJoin(cover.hostPath, located.path),
          kind: located.stat.isDirectory() ? 'directory' : 'file',
          locked: lockedFlags(cover.hostPath),
        };
      }
      default:
        return undefined;
    }
  }
}

function relativeTo(base: string, path: string): string {
  return base === '/' ? path : path === base ? '/' : path.slice(base.length);
}

function checkKernelPath(host: string, kind: EntryKind, what: string, dest: string): void {
  const stat = lstatSync(host, { throwIfNoEntry: false });
  if (stat === undefined)
    throw new UnsafePathError(`${what}: ${dest} does not exist in the kernel's file system there`);
  let real: string;
  try {
    real = realpathSync(host);
  } catch {
    real = '';
  }
  if (real !== host) throw new UnsafePathError(`${what}: ${dest} goes through a symlink of the kernel's file system`);
  if (kind === 'directory' && !stat.isDirectory()) throw new UnsafePathError(`${what}: ${dest} is not a directory`);
  if (kind === 'file' && stat.isDirectory()) throw new UnsafePathError(`${what}: ${dest} is a directory`);
}

/** RDONLY | NOSUID | NODEV | NOEXEC of the mount path is on (statfs(2): ST_* share MS_*'s values). */
export function lockedFlags(path: string): number {
  return native.statfs(path).flags & LOCKABLE;
}

/** Whether group id 5 (tty, devpts's gid=5) exists in the user namespace the container runs in. */
function gidMapped(gid: number, spec: ContainerSpec): boolean {
  const ranges =
    spec.userNamespace !== undefined
      ? spec.userNamespace.gidMap.map((m) => ({ inside: m.inside, count: m.count }))
      : parseIdMap(readFileSync('/proc/self/gid_map', 'utf8'));
  return ranges.some((r) => gid >= r.inside && gid < r.inside + r.count);
}

/** Mounts strictly below base that a recursive bind of base copies (not unbindable), the visible ones. */
function submountsOf(base: string, mounts: MountInfo[]): { path: string; locked: number }[] {
  const found = new Map<string, number>();
  for (const m of mounts) {
    if (m.mountPoint === base || !isWithin(m.mountPoint, base)) continue;
    if (m.optional.includes('unbindable')) continue;
    let locked = 0;
    if (m.options.includes('ro')) locked |= Mount.RDONLY;
    if (m.options.includes('nosuid')) locked |= Mount.NOSUID;
    if (m.options.includes('nodev')) locked |= Mount.NODEV;
    if (m.options.includes('noexec')) locked |= Mount.NOEXEC;
    // A later mount at or above a point hides what was mounted there before: not reachable, not remounted.
    for (const earlier of [...found.keys()]) if (isWithin(earlier, m.mountPoint)) found.delete(earlier);
    found.set(m.mountPoint, locked);
  }
  return [...found].map(([path, locked]) => ({ path: path.slice(base.length), locked }));
}

const SPECIAL_DESTINATIONS = new Set(['/', '/proc', '/dev', '/dev/pts', '/sys']);

function checkUserMount(m: MountSpec, index: number): string {
  if (!m.destination.startsWith('/')) {
    throw new HutchError(`mount ${index + 1}: destination ${JSON.stringify(m.destination)} is not an absolute path`);
  }
  const dest = cleanPath(m.destination);
  if (SPECIAL_DESTINATIONS.has(dest)) {
    throw new HutchError(`mount ${index + 1}: cannot mount over ${dest}: hutch mounts it itself`);
  }
  return dest;
}

/**
 * Makes every mount point of the container in spec.rootfs (which must be
 * mounted) and in the bound directories, securely, and gathers what the
 * child's steps need. Runs in node, in the namespace the container's child is
 * cloned from, before the clone. Throws UnsafePathError (nothing is mounted)
 * for a destination that cannot be made safe, HutchError for a bad spec.
 */
export function prepareRootfs(spec: ContainerSpec, environment: MountEnvironment = {}): PreparedRootfs {
  const env: Required<MountEnvironment> = {
    cgroupNamespace: environment.cgroupNamespace ?? false,
    privateIpc: environment.privateIpc ?? true,
  };
  const root = realRoot(spec.rootfs);
  if (!statSync(root).isDirectory()) throw new HutchError(`rootfs ${spec.rootfs} is not a directory`);
  const tree = new MountTree(root);
  const userDests = spec.mounts.map((m, i) => checkUserMount(m, i));
  const replaced = (dest: string) => userDests.includes(dest);
  const mountinfo = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

  // /proc and /dev and /sys must be real directories of the image: a symlink there would
  // put the kernel's file systems where the image chose.
  const proc = tree.target('/proc', 'directory', 'the mount point of proc (/proc)', { noSymlinks: true });
  tree.add({
    kind: 'kernel',
    dest: '/proc',
    hostPath: proc.path,
    hostSource: '/proc',
    allow: (dest) => PROC_MOUNTABLE.has(dest),
  });

  const dev = tree.target('/dev', 'directory', 'the mount point of /dev', { noSymlinks: true });
  const reserved = new Set(DEV_LINKS.map(([, name]) => name).concat('core'));
  tree.add({ kind: 'fresh', dest: '/dev', hostPath: dev.path, reserved });
  const devptsTarget = tree.target('/dev/pts', 'directory', 'devpts');
  tree.add({ kind: 'closed', dest: '/dev/pts', what: 'devpts' });
  let shm: Target | undefined;
  if (!replaced('/dev/shm')) {
    shm = tree.target('/dev/shm', 'directory', '/dev/shm');
    tree.add({ kind: 'fresh', dest: '/dev/shm', hostPath: shm.path, reserved: new Set() });
  }
  let mqueue: PreparedRootfs['mqueue'];
  if (!replaced('/dev/mqueue') && (env.privateIpc || existsOnHost('/dev/mqueue'))) {
    mqueue = {
      target: tree.target('/dev/mqueue', 'directory', '/dev/mqueue'),
      mode: env.privateIpc ? 'mqueue' : 'bind',
    };
    tree.add({ kind: 'closed', dest: '/dev/mqueue', what: 'mqueue' });
  }
  const devices: PreparedBind[] = [];
  for (const device of spec.devices) {
    const dest = cleanPath(device);
    if (!isWithin(dest, '/dev') || dest === '/dev') throw new HutchError(`device ${device} is not in /dev`);
    if (replaced(dest)) continue;
    const target = tree.target(dest, 'file', `device ${device}`);
    tree.add({ kind: 'closed', dest, what: 'a device' });
    devices.push({ source: dest, target, locked: 0 });
  }
  const devLinks = DEV_LINKS.map(([target, name]) => ({ target, path: hostJoin(dev.path, `/${name}`) }));
  if (existsOnHost('/proc/kcore')) devLinks.push({ target: '/proc/kcore', path: hostJoin(dev.path, '/core') });

  const sysTarget = tree.target('/sys', 'directory', 'the mount point of sysfs (/sys)', { noSymlinks: true });
  const sysMode = spec.network.mode === 'new' ? 'sysfs' : 'bind';
  tree.add({ kind: 'kernel', dest: '/sys', hostPath: sysTarget.path, hostSource: '/sys', allow: undefined });
  const cgroupTarget = tree.target('/sys/fs/cgroup', 'directory', '/sys/fs/cgroup');
  const cgroupMode = env.cgroupNamespace ? 'cgroup2' : sysMode === 'sysfs' ? 'bind' : 'inherited';
  if (env.cgroupNamespace) tree.add({ kind: 'closed', dest: '/sys/fs/cgroup', what: 'cgroup2' });
  const readonlySubmounts =
    sysMode === 'bind'
      ? submountsOf('/sys', mountinfo)
          .filter((m) => !(env.cgroupNamespace && isWithin(cleanPath(`/sys${m.path}`), '/sys/fs/cgroup')))
          .map((m) => ({ path: hostJoin(sysTarget.path, m.path), locked: m.locked }))
      : cgroupMode === 'bind'
        ? submountsOf('/sys/fs/cgroup', mountinfo).map((m) => ({
            path: hostJoin(cgroupTarget.path, m.path),
            locked: m.locked,
          }))
        : [];

  const etcFiles: PreparedBind[] = [];
  for (const [dest, source] of [
    ['/etc/hosts', spec.etcFiles.hosts],
    ['/etc/hostname', spec.etcFiles.hostname],
    ['/etc/resolv.conf', spec.etcFiles.resolvConf],
  ] as const) {
    if (replaced(dest)) continue;
    const target = tree.target(dest, 'file', dest);
    tree.add({ kind: 'closed', dest, what: 'a file' });
    etcFiles.push({ source, target, locked: lockedFlags(source) });
  }

  const mounts: PreparedRootfs['mounts'] = [];
  spec.mounts.forEach((m, i) => {
    const dest = userDests[i] as string;
    const what = `${m.type === 'bind' ? 'volume' : 'tmpfs'} ${dest}`;
    if (m.type === 'tmpfs') {
      const target = tree.target(dest, 'directory', what);
      tree.add({ kind: 'fresh', dest, hostPath: target.path, reserved: new Set() });
      mounts.push({ spec: m, source: 'tmpfs', target, locked: 0 });
      return;
    }
    let stat;
    try {
      stat = statSync(m.source);
    } catch {
      throw new HutchError(`bind source ${m.source} does not exist`);
    }
    const kind: EntryKind = stat.isDirectory() ? 'directory' : 'file';
    const target = tree.target(dest, kind, what);
    tree.add(
      kind === 'directory'
        ? { kind: 'tree', dest, root: realpathSync(m.source), hostPath: target.path, isRootfs: false }
        : { kind: 'closed', dest, what: 'a file' },
    );
    mounts.push({ spec: m, source: m.source, target, locked: lockedFlags(m.source) });
  });

  let init: PreparedBind | undefined;
  if (spec.init !== undefined) {
    const target = tree.target('/run/hutch-init', 'file', 'the init binary (/run/hutch-init)');
    tree.add({ kind: 'closed', dest: '/run/hutch-init', what: 'a file' });
    init = { source: spec.init, target, locked: lockedFlags(spec.init) };
  }

  const cwd = tree.target(spec.process.cwd, 'directory', `the working directory ${spec.process.cwd}`);

  const readonlyPaths = spec.readonlyPaths
    .map((p) => tree.existing(p))
    .filter((p) => p !== undefined)
    .map((p) => ({ path: p.path, locked: p.locked }));
  const maskedPaths = spec.maskedPaths
    .map((p) => tree.existing(p))
    .filter((p) => p !== undefined)
    .map((p) => ({ path: p.path, kind: p.kind }));

  return {
    root,
    rootLocked: lockedFlags(root),
    proc,
    dev,
    devpts: { target: devptsTarget, gid: gidMapped(5, spec) ? 5 : undefined },
    shm,
    mqueue,
    devices,
    devLinks,
    sys: { target: sysTarget, mode: sysMode },
    cgroup: { target: cgroupTarget, mode: cgroupMode },
    readonlySubmounts,
    etcFiles,
    mounts,
    init,
    cwd,
    readonlyPaths,
    maskedPaths,
    created: [...new Set(tree.created)],
    environment: env,
  };
}

function existsOnHost(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

// ---------------------------------------------------------------------------
// The child's steps.

const S_IFREG = 0o100000;

function makeTarget(plan: Plan, target: Target): void {
  for (const m of target.make) {
    if (m.kind === 'directory') plan.mkdir(m.path, 0o755, { ignoreExists: true });
    else plan.mknod(m.path, S_IFREG | 0o644, 0, { ignoreExists: true });
  }
}

/** A bind mount, then the remount that applies ro/nosuid/nodev/noexec (binds ignore them: mount(2)). */
function bind(
  plan: Plan,
  source: string,
  target: Target,
  options: { recursive: boolean; flags: number; locked: number },
): void {
  makeTarget(plan, target);
  plan.mount(source, target.path, null, Mount.BIND | (options.recursive ? Mount.REC : 0));
  if ((options.flags & LOCKABLE) !== 0) {
    plan.mount(null, target.path, null, Mount.BIND | Mount.REMOUNT | options.flags | options.locked);
  }
}

function optionFlags(options: readonly ('nosuid' | 'nodev' | 'noexec')[], readonly: boolean): number {
  let flags = readonly ? Mount.RDONLY : 0;
  if (options.includes('nosuid')) flags |= Mount.NOSUID;
  if (options.includes('nodev')) flags |= Mount.NODEV;
  if (options.includes('noexec')) flags |= Mount.NOEXEC;
  return flags;
}

const PROPAGATION: Record<string, number> = {
  private: Mount.PRIVATE,
  rprivate: Mount.PRIVATE | Mount.REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | Mount.REC,
  slave: Mount.SLAVE,
  rslave: Mount.SLAVE | Mount.REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | Mount.REC,
};

/**
 * Appends the child's mount steps (it must have been cloned with
 * CLONE_NEWNS, and for /proc and sysfs with its own pid and network
 * namespaces) and ends with pivot_root into the rootfs, cwd "/". prepared is
 * prepareRootfs(spec)'s result.
 */
export function mountSteps(plan: Plan, spec: ContainerSpec, prepared: PreparedRootfs): void {
  const root = prepared.root;
  // Nothing the container mounts may propagate back to the session (runc's rootfsPropagation).
  plan.mount(null, '/', null, Mount.REC | Mount.SLAVE);
  // pivot_root(2) needs the new root to be a mount point; the copy driver's is a plain directory.
  plan.mount(root, root, null, Mount.BIND | Mount.REC);

  plan.mount('proc', prepared.proc.path, 'proc', PROC_FLAGS);

  plan.mount('tmpfs', prepared.dev.path, 'tmpfs', Mount.NOSUID | Mount.STRICTATIME, TMPFS_DEV_DATA);
  makeTarget(plan, prepared.devpts.target);
  const gid = prepared.devpts.gid === undefined ? '' : `,gid=${prepared.devpts.gid}`;
  plan.mount(
    'devpts',
    prepared.devpts.target.path,
    'devpts',
    Mount.NOSUID | Mount.NOEXEC,
    `newinstance,ptmxmode=0666,mode=0620${gid}`,
  );
  if (prepared.shm !== undefined) {
    makeTarget(plan, prepared.shm);
    plan.mount('shm', prepared.shm.path, 'tmpfs', Mount.NOSUID | Mount.NODEV | Mount.NOEXEC, SHM_DATA);
  }
  if (prepared.mqueue !== undefined) {
    makeTarget(plan, prepared.mqueue.target);
    if (prepared.mqueue.mode === 'mqueue') {
      plan.mount('mqueue', prepared.mqueue.target.path, 'mqueue', Mount.NOSUID | Mount.NODEV | Mount.NOEXEC);
    } else {
      plan.mount('/dev/mqueue', prepared.mqueue.target.path, null, Mount.BIND | Mount.REC);
    }
  }
  for (const device of prepared.devices)
    bind(plan, device.source, device.target, { recursive: false, flags: 0, locked: 0 });
  for (const link of prepared.devLinks) plan.symlink(link.target, link.path, { ignoreExists: true });

  if (prepared.sys.mode === 'sysfs') {
    plan.mount('sysfs', prepared.sys.target.path, 'sysfs', SYSFS_FLAGS);
  } else {
    plan.mount('/sys', prepared.sys.target.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, prepared.sys.target.path, null, Mount.BIND | Mount.REMOUNT | SYSFS_FLAGS);
  }
  const cgroup = prepared.cgroup;
  if (cgroup.mode === 'cgroup2') {
    plan.mount('cgroup2', cgroup.target.path, 'cgroup2', SYSFS_FLAGS);
  } else if (cgroup.mode === 'bind') {
    plan.mount('/sys/fs/cgroup', cgroup.target.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, cgroup.target.path, null, Mount.BIND | Mount.REMOUNT | SYSFS_FLAGS);
  }
  // A remount applies to one mount: each one a recursive bind copied is made read-only too.
  for (const sub of prepared.readonlySubmounts) {
    plan.mount(null, sub.path, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | sub.locked);
  }

  for (const file of prepared.etcFiles)
    bind(plan, file.source, file.target, { recursive: false, flags: 0, locked: file.locked });

  for (const m of prepared.mounts) {
    const flags = optionFlags(m.spec.options, m.spec.readonly);
    if (m.spec.type === 'tmpfs') {
      makeTarget(plan, m.target);
      plan.mount('tmpfs', m.target.path, 'tmpfs', flags, m.spec.data.length > 0 ? m.spec.data.join(',') : null);
      continue;
    }
    bind(plan, m.source, m.target, { recursive: m.spec.recursive, flags, locked: m.locked });
    const propagation = (m.spec as { propagation?: string }).propagation;
    if (propagation !== undefined && PROPAGATION[propagation] !== undefined) {
      plan.mount(null, m.target.path, null, PROPAGATION[propagation] as number);
    }
  }

  if (prepared.init !== undefined) {
    bind(plan, prepared.init.source, prepared.init.target, {
      recursive: false,
      flags: Mount.RDONLY,
      locked: prepared.init.locked,
    });
  }

  // The working directory may be inside a tmpfs the child mounted: made there now.
  makeTarget(plan, prepared.cwd);

  for (const path of prepared.readonlyPaths) {
    plan.mount(path.path, path.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, path.path, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | path.locked);
  }
  for (const path of prepared.maskedPaths) {
    if (path.kind === 'directory') plan.mount('tmpfs', path.path, 'tmpfs', Mount.RDONLY, null);
    else plan.mount('/dev/null', path.path, null, Mount.BIND);
  }

  if (spec.readonlyRootfs) {
    plan.mount(null, root, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | prepared.rootLocked);
  }

  // pivot_root(".", "."): the old root ends up stacked on the new one, and is detached
  // (pivot_root(2), NOTES); made rslave first so the unmount cannot reach the session.
  plan.chdir(root);
  plan.pivotRoot('.', '.');
  plan.mount(null, '.', null, Mount.SLAVE | Mount.REC);
  plan.umount('.', MNT_DETACH);
  plan.chdir('/');
}
