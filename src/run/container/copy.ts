/**
 * `hutch cp`: files between the host and a container's root file system
 * (mounted in node's namespace, see src/run/rootfs), with docker cp's rules
 * (docs.docker.com/reference/cli/docker/container/cp):
 *
 *   SRC is a file:  DEST missing -> a file DEST; DEST/ missing -> error;
 *                   DEST a file -> overwritten; DEST a directory -> DEST/basename(SRC)
 *   SRC is a dir:   DEST missing -> DEST made, SRC's content copied into it;
 *                   DEST a file -> error; DEST a directory -> DEST/basename(SRC),
 *                   or SRC's content into DEST when SRC ends with "/."
 *   A symlink at SRC is copied as a symlink unless followLink (-L); links in
 *   the directories above it are followed, inside the container.
 *
 * Every path inside the container is resolved in its root (openat2
 * RESOLVE_IN_ROOT): a symlink in the container, even one a running container
 * swaps in meanwhile, never leads outside. Writes into the container work
 * through directory fds and never follow the last component; a directory in
 * the way of a file is an error, never removed recursively.
 *
 * Owners: copied into the container, files belong to root (uid 0 of the
 * session, which is the user); copied out, to the user running hutch. With
 * archive (-a) they keep the uid and gid they had.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { HutchError, SyscallError } from '../../errors.js';
import { OVERLAY_XATTR, splitDevice } from '../../image/layer/diff.js';
import { native } from '../../native.js';
import { cleanPath, locateInRoot, O_PATH, openInRoot } from '../../fs/in-root.js';

export interface CopyOptions {
  /** -a: keep the uid and gid of what is copied. */
  archive?: boolean;
  /** -L: follow a symlink at the source path itself. */
  followLink?: boolean;
  /** Things skipped (device nodes a user namespace cannot make), once per kind. */
  onWarning?: (message: string) => void;
}

/** Where files are read from: the host, or a container's tree. */
interface Source {
  lstat(path: string): Stats | undefined;
  readdir(path: string): string[];
  readlink(path: string): string;
  open(path: string): number;
  xattrs(path: string): Map<string, Buffer>;
}

/** Where files are written to. Paths are the side's own (host paths, or paths in the container). */
interface Sink {
  lstat(path: string): Stats | undefined;
  unlink(path: string): void;
  mkdir(path: string): void;
  create(path: string, mode: number): number;
  symlink(target: string, path: string): void;
  link(existing: string, path: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** Owner (when given), xattrs, mode, times of what was made at path; fd: the open file, if any. */
  finish(
    path: string,
    stat: Stats,
    owner: { uid: number; gid: number } | undefined,
    xattrs: Map<string, Buffer>,
    fd?: number,
  ): void;
}

function errorCode(error: unknown): string | undefined {
  return error instanceof SyscallError ? error.code : (error as NodeJS.ErrnoException).code;
}

function parentAndName(path: string): [string, string] {
  const clean = cleanPath(path);
  return [dirname(clean), basename(clean)];
}

function copyableXattrs(xattrs: Map<string, Buffer>): Map<string, Buffer> {
  return new Map([...xattrs].filter(([name]) => !OVERLAY_XATTR.test(name)));
}

function readXattrs(path: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const name of native.listxattr(path)) {
    try {
      const value = native.getxattr(path, name);
      if (value !== null) xattrs.set(name, value);
    } catch {
      // not readable here (trusted.*): not copied
    }
  }
  return xattrs;
}

function setXattrs(path: string, xattrs: Map<string, Buffer>): void {
  for (const [name, value] of xattrs) {
    try {
      native.setxattr(path, name, value);
    } catch (error) {
      const code = errorCode(error);
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw error;
    }
  }
}

/** Runs fn with `/proc/self/fd/N/name`: name in its parent, the parent opened in the root. */
function inParent<T>(root: string, path: string, fn: (at: string) => T): T {
  const [parent, name] = parentAndName(path);
  const fd = openInRoot(root, parent, O_PATH | constants.O_DIRECTORY);
  try {
    return fn(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

function containerSource(root: string): Source {
  return {
    lstat: (path) => inParent(root, path, (at) => lstatSync(at, { throwIfNoEntry: false })),
    readdir: (path) => {
      const fd = openInRoot(root, path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        return readdirSync(`/proc/self/fd/${fd}`).sort();
      } finally {
        closeSync(fd);
      }
    },
    readlink: (path) => inParent(root, path, (at) => readlinkSync(at)),
    open: (path) => openInRoot(root, path, constants.O_RDONLY | constants.O_NOFOLLOW),
    xattrs: (path) => inParent(root, path, readXattrs),
  };
}

const hostSource: Source = {
  lstat: (path) => lstatSync(path, { throwIfNoEntry: false }),
  readdir: (path) => readdirSync(path).sort(),
  readlink: (path) => readlinkSync(path),
  open: (path) => openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW),
  xattrs: readXattrs,
};

/** fchown, xattrs, fchmod, futimes on an fd of what was made (chown clears setuid bits and capabilities). */
function finishByFd(
  fd: number,
  at: string,
  stat: Stats,
  owner: { uid: number; gid: number } | undefined,
  xattrs: Map<string, Buffer>,
): void {
  if (owner !== undefined) chownMapped(() => fchownSync(fd, owner.uid, owner.gid));
  setXattrs(at, xattrs);
  fchmodSync(fd, stat.mode & 0o7777);
  futimesSync(fd, stat.atime, stat.mtime);
}

/** An owner this namespace does not map (EINVAL) leaves what was made with the creator's. */
function chownMapped(chown: () => void): void {
  try {
    chown();
  } catch (error) {
    if (errorCode(error) !== 'EINVAL') throw error;
  }
}

function containerSink(root: string): Sink {
  return {
    lstat: (path) => inParent(root, path, (at) => lstatSync(at, { throwIfNoEntry: false })),
    unlink: (path) => inParent(root, path, (at) => unlinkSync(at)),
    mkdir: (path) => native.mkdirInRoot(root, path, 0o700),
    create: (path, mode) =>
      openInRoot(
        root,
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        mode & 0o777,
      ),
    symlink: (target, path) => inParent(root, path, (at) => symlinkSync(target, at)),
    link: (existing, path) => inParent(root, existing, (from) => inParent(root, path, (to) => linkSync(from, to))),
    mknod: (path, mode, major, minor) => inParent(root, path, (at) => native.mknod(at, mode, major, minor)),
    finish: (path, stat, owner, xattrs, fd) => {
      inParent(root, path, (at) => {
        if (fd !== undefined) return finishByFd(fd, at, stat, owner, xattrs);
        if (stat.isDirectory()) {
          const dirfd = openInRoot(root, path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
          try {
            return finishByFd(dirfd, at, stat, owner, xattrs);
          } finally {
            closeSync(dirfd);
          }
        }
        // A symlink or a fifo: calls that do not follow the last component, on its name in its parent.
        if (owner !== undefined) chownMapped(() => lchownSync(at, owner.uid, owner.gid));
        setXattrs(at, xattrs);
        if (!stat.isSymbolicLink()) {
          // chmod(2) follows links: it goes through an O_PATH fd of the node itself, checked first.
          const nodefd = openInRoot(root, path, O_PATH | constants.O_NOFOLLOW);
          try {
            if (!fstatSync(nodefd).isSymbolicLink()) chmodSync(`/proc/self/fd/${nodefd}`, stat.mode & 0o7777);
          } finally {
            closeSync(nodefd);
          }
        }
        lutimesSync(at, stat.atime, stat.mtime);
      });
    },
  };
}

const hostSink: Sink = {
  lstat: (path) => lstatSync(path, { throwIfNoEntry: false }),
  unlink: (path) => unlinkSync(path),
  mkdir: (path) => mkdirSync(path, 0o700),
  create: (path, mode) =>
    openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode & 0o777),
  symlink: (target, path) => symlinkSync(target, path),
  link: (existing, path) => linkSync(existing, path),
  mknod: (path, mode, major, minor) => native.mknod(path, mode, major, minor),
  finish: (path, stat, owner, xattrs, fd) => {
    if (fd !== undefined) return finishByFd(fd, path, stat, owner, xattrs);
    if (stat.isDirectory()) {
      const dirfd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        return finishByFd(dirfd, path, stat, owner, xattrs);
      } finally {
        closeSync(dirfd);
      }
    }
    if (owner !== undefined) chownMapped(() => lchownSync(path, owner.uid, owner.gid));
    setXattrs(path, xattrs);
    if (!stat.isSymbolicLink()) chmodSync(path, stat.mode & 0o7777);
    lutimesSync(path, stat.atime, stat.mtime);
  },
};

const CHUNK = 1 << 20;

function copyContent(from: number, to: number): void {
  const buffer = Buffer.alloc(CHUNK);
  for (;;) {
    const n = readSync(from, buffer, 0, CHUNK, null);
    if (n === 0) return;
    let written = 0;
    while (written < n) written += writeSync(to, buffer, written, n - written);
  }
}

class TreeCopier {
  /** dev:ino of what was copied → where, for hard links within the copy. */
  private readonly links = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly source: Source,
    private readonly sink: Sink,
    private readonly options: CopyOptions,
  ) {}

  private owner(stat: Stats): { uid: number; gid: number } | undefined {
    return this.options.archive === true ? { uid: stat.uid, gid: stat.gid } : undefined;
  }

  /** Copies the directory from's entries into the existing directory to, merging. */
  copyChildren(from: string, to: string): void {
    for (const name of this.source.readdir(from)) this.copyEntry(`${from}/${name}`, `${to}/${name}`);
  }

  /** Copies one entry (recursively for a directory) to `to`, replacing a non-directory there. */
  copyEntry(from: string, to: string, known?: Stats): void {
    const stat = known ?? this.source.lstat(from);
    if (stat === undefined) return; // removed meanwhile
    const existing = this.sink.lstat(to);
    const xattrs = copyableXattrs(this.source.xattrs(from));
    if (stat.isDirectory()) {
      if (existing !== undefined && !existing.isDirectory()) this.sink.unlink(to);
      if (existing === undefined || !existing.isDirectory()) this.sink.mkdir(to);
      this.copyChildren(from, to);
      this.sink.finish(to, stat, this.owner(stat), xattrs);
      return;
    }
    if (existing !== undefined) {
      if (existing.isDirectory()) throw new HutchError(`cannot overwrite directory ${to} with non-directory ${from}`);
      this.sink.unlink(to);
    }
    const key = `${stat.dev}:${stat.ino}`;
    const first = stat.nlink > 1 ? this.links.get(key) : undefined;
    if (first !== undefined) {
      this.sink.link(first, to);
      return;
    }
    if (stat.isFile()) {
      const input = this.source.open(from);
      try {
        const output = this.sink.create(to, stat.mode);
        try {
          copyContent(input, output);
          this.sink.finish(to, stat, this.owner(stat), xattrs, output);
        } finally {
          closeSync(output);
        }
      } finally {
        closeSync(input);
      }
    } else if (stat.isSymbolicLink()) {
      this.sink.symlink(this.source.readlink(from), to);
      this.sink.finish(to, stat, this.owner(stat), xattrs);
    } else if (stat.isFIFO() || stat.isCharacterDevice() || stat.isBlockDevice()) {
      const { major, minor } = stat.isFIFO() ? { major: 0, minor: 0 } : splitDevice(stat.rdev);
      try {
        this.sink.mknod(to, stat.mode, major, minor);
      } catch (error) {
        if (errorCode(error) !== 'EPERM') throw error;
        this.warn('devices', `skipped device node ${from}: a user namespace may not create devices`);
        return;
      }
      this.sink.finish(to, stat, this.owner(stat), xattrs);
    } else {
      this.warn('sockets', `skipped socket ${from}`);
      return;
    }
    if (stat.nlink > 1) this.links.set(key, to);
  }

  private warn(kind: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.options.onWarning?.(message);
  }
}

/** What a cp source path says beyond the path: "/." copies a directory's content, "/" requires a directory. */
function sourceForm(path: string): { contentsOnly: boolean; mustBeDir: boolean } {
  // The root itself has no name to copy under: its content is copied, as with "/.".
  const contentsOnly = path === '.' || path.endsWith('/.') || /^\/+$/.test(path);
  return { contentsOnly, mustBeDir: contentsOnly || path.endsWith('/') };
}

/**
 * Copies srcPath of the container (whose root file system is mounted at
 * rootfs) to hostDest on the host. Runs in node inside the session.
 */
export function copyFromContainer(rootfs: string, srcPath: string, hostDest: string, options: CopyOptions = {}): void {
  const form = sourceForm(srcPath);
  const source = containerSource(rootfs);
  const follow = form.mustBeDir || options.followLink === true;
  const located = follow ? locateInRoot(rootfs, srcPath) : locateInRoot(rootfs, dirname(cleanPath(srcPath)));
  if (located.missing.length > 0) throw notFound(srcPath, 'in the container');
  const from = follow ? located.path : cleanPath(`${located.path}/${basename(cleanPath(srcPath))}`);
  const stat = source.lstat(from);
  if (stat === undefined) throw notFound(srcPath, 'in the container');
  if (form.mustBeDir && !stat.isDirectory()) throw new HutchError(`${srcPath}: not a directory in the container`);
  const dest = resolve(hostDest);
  const existing = statOrUndefined(dest);
  const copier = new TreeCopier(source, hostSink, options);
  place(
    copier,
    { from, stat, name: basename(from), contentsOnly: form.contentsOnly },
    {
      dest,
      existing,
      trailingSlash: hostDest.endsWith('/'),
      join: (dir, name) => `${dir === '/' ? '' : dir}/${name}`,
      parentExists: () => statOrUndefined(dirname(dest))?.isDirectory() === true,
      what: hostDest,
    },
  );
}

/**
 * Copies hostSrc from the host to destPath in the container (whose root file
 * system is mounted at rootfs). Runs in node inside the session.
 */
export function copyToContainer(hostSrc: string, rootfs: string, destPath: string, options: CopyOptions = {}): void {
  const form = sourceForm(hostSrc);
  const src = resolve(hostSrc);
  const follow = form.mustBeDir || options.followLink === true;
  let stat: Stats | undefined;
  try {
    stat = follow ? statSync(src) : lstatSync(src);
  } catch {
    stat = undefined;
  }
  if (stat === undefined) throw notFound(hostSrc, 'on the host');
  if (form.mustBeDir && !stat.isDirectory()) throw new HutchError(`${hostSrc}: not a directory`);
  const located = locateInRoot(rootfs, destPath);
  const dest = cleanPath([located.path, ...located.missing].join('/'));
  const existing = located.missing.length === 0 ? located.stat : undefined;
  const copier = new TreeCopier(hostSource, containerSink(rootfs), options);
  place(
    copier,
    { from: src, stat, name: basename(src), contentsOnly: form.contentsOnly },
    {
      dest,
      existing,
      trailingSlash: destPath.endsWith('/'),
      join: (dir, name) => cleanPath(`${dir}/${name}`),
      parentExists: () => located.missing.length <= 1,
      what: destPath,
    },
  );
}

function place(
  copier: TreeCopier,
  src: { from: string; stat: Stats; name: string; contentsOnly: boolean },
  dest: {
    dest: string;
    existing: Stats | undefined;
    trailingSlash: boolean;
    join: (dir: string, name: string) => string;
    parentExists: () => boolean;
    what: string;
  },
): void {
  const { existing } = dest;
  if (existing === undefined) {
    if (dest.trailingSlash) throw new HutchError(`${dest.what}: the destination directory must exist`);
    if (!dest.parentExists()) throw new HutchError(`${dest.what}: the directory it would be created in does not exist`);
    copier.copyEntry(src.from, dest.dest, src.stat);
    return;
  }
  if (existing.isDirectory()) {
    if (src.stat.isDirectory() && src.contentsOnly) copier.copyChildren(src.from, dest.dest);
    else copier.copyEntry(src.from, dest.join(dest.dest, src.name), src.stat);
    return;
  }
  if (src.stat.isDirectory()) throw new HutchError(`cannot copy directory ${src.from} to the file ${dest.what}`);
  if (dest.trailingSlash) throw new HutchError(`${dest.what}: not a directory`);
  copier.copyEntry(src.from, dest.dest, src.stat);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function notFound(path: string, where: string): HutchError {
  return new HutchError(`${path}: no such file or directory ${where}`);
}
