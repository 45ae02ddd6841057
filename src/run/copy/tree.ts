/**
 * A directory tree that `hutch cp` reads or writes: a container's root (as
 * the container sees it, or its rootfs, a volume, a bind source), or a
 * directory of the host. Every path is the tree's own ("/etc/hosts") and is
 * resolved inside it with openat2(RESOLVE_IN_ROOT): a symlink, even one a
 * running container swaps in meanwhile, never leads out of the tree. The last
 * component is never followed: calls go through an fd of the parent directory
 * (`/proc/self/fd/N/name`) with the l* calls, or open with O_NOFOLLOW.
 *
 * Runs in node inside the session (root of the user namespace).
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
  readdirSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { SyscallError } from '../../errors.js';
import { cleanPath, locateInRoot, O_PATH, openInRoot, type Located } from '../../fs/in-root.js';
import { readXattrs, setXattrs, withoutOverlayXattrs } from '../../fs/xattr.js';
import { native } from '../../native.js';

/** What a copied node gets once written: its owner (when one is imposed), xattrs, mode and times. */
export interface NodeMetadata {
  mode: number;
  /** undefined: left as created (owned by the session's root, the user on the host). */
  owner: { uid: number; gid: number } | undefined;
  xattrs: Map<string, Buffer>;
  atime: Date;
  mtime: Date;
}

export function errorCode(error: unknown): string | undefined {
  return error instanceof SyscallError ? error.code : (error as NodeJS.ErrnoException).code;
}

/** An owner this namespace does not map (EINVAL) leaves what was made with the creator's. */
function chownMapped(chown: () => void): void {
  try {
    chown();
  } catch (error) {
    if (errorCode(error) !== 'EINVAL') throw error;
  }
}

/** fchown, xattrs, fchmod, futimes through an fd of the node (chown clears setuid bits and capabilities first). */
function finishByFd(fd: number, at: string, meta: NodeMetadata): void {
  const { owner } = meta;
  if (owner !== undefined) chownMapped(() => fchownSync(fd, owner.uid, owner.gid));
  setXattrs(at, meta.xattrs);
  fchmodSync(fd, meta.mode & 0o7777);
  futimesSync(fd, meta.atime, meta.mtime);
}

export class RootedTree {
  /** root: the host path of the tree's top directory (followed once, when each call opens it). */
  constructor(readonly root: string) {}

  /** Runs fn with `/proc/self/fd/N/name`: name in its parent, the parent opened in the tree. */
  private inParent<T>(path: string, fn: (at: string) => T): T {
    const clean = cleanPath(path);
    const fd = openInRoot(this.root, posix.dirname(clean), O_PATH | constants.O_DIRECTORY);
    try {
      return fn(`/proc/self/fd/${fd}/${posix.basename(clean)}`);
    } finally {
      closeSync(fd);
    }
  }

  /** Where path leads in the tree, every symlink followed inside it (src/fs/in-root.ts). */
  locate(path: string): Located {
    const located = locateInRoot(this.root, path);
    // The top itself is stat'ed through the fd it opens to: root may be a link to it (/proc/self/fd/N).
    if (located.path === '/' && located.missing.length === 0) return { ...located, stat: this.lstat('/') };
    return located;
  }

  lstat(path: string): Stats | undefined {
    if (cleanPath(path) === '/') return this.withFd('/', O_PATH | constants.O_DIRECTORY, (fd) => fstatSync(fd));
    return this.inParent(path, (at) => lstatSync(at, { throwIfNoEntry: false }));
  }

  /** The names in a directory, sorted (byte order of their UTF-8, as Go sorts tar entries). */
  readdir(path: string): string[] {
    return this.withFd(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, (fd) =>
      readdirSync(`/proc/self/fd/${fd}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  }

  readlink(path: string): string {
    return this.inParent(path, (at) => readlinkSync(at));
  }

  xattrs(path: string): Map<string, Buffer> {
    // The l* xattr calls cannot name the tree's top through an fd: it has none worth copying.
    if (cleanPath(path) === '/') return new Map();
    return withoutOverlayXattrs(this.inParent(path, readXattrs));
  }

  /** An fd to read a regular file (close it). */
  openFile(path: string): number {
    return openInRoot(this.root, path, constants.O_RDONLY | constants.O_NOFOLLOW);
  }

  private withFd<T>(path: string, flags: number, fn: (fd: number) => T): T {
    const fd = openInRoot(this.root, path, flags);
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** mkdir(2) of the last component; a symlink there gives EEXIST, never a directory elsewhere. */
  mkdir(path: string, mode: number): void {
    native.mkdirInRoot(this.root, path, mode);
  }

  /** A new regular file (O_EXCL: whatever was there must be gone), open for writing. */
  create(path: string, mode: number): number {
    return openInRoot(
      this.root,
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode & 0o777,
    );
  }

  symlink(target: string, path: string): void {
    this.inParent(path, (at) => symlinkSync(target, at));
  }

  /** A hard link at path to existing, both in the tree. */
  link(existing: string, path: string): void {
    this.inParent(existing, (from) => this.inParent(path, (to) => linkSync(from, to)));
  }

  mknod(path: string, mode: number, major: number, minor: number): void {
    this.inParent(path, (at) => native.mknod(at, mode, major, minor));
  }

  unlink(path: string): void {
    this.inParent(path, (at) => unlinkSync(at));
  }

  /**
   * Removes what is at path, a directory with everything in it. Each step
   * resolves in the tree again, so a directory swapped for a symlink meanwhile
   * makes it remove the link, never what the link names.
   */
  remove(path: string): void {
    const stat = this.lstat(path);
    if (stat === undefined) return;
    if (!stat.isDirectory()) {
      this.unlink(path);
      return;
    }
    for (const name of this.readdir(path)) this.remove(`${cleanPath(path)}/${name}`);
    this.inParent(path, (at) => rmdirSync(at));
  }

  /** Sets what meta says on what was made at path; fd: the open file, if any. */
  finish(path: string, meta: NodeMetadata, fd?: number): void {
    if (fd !== undefined) {
      this.inParent(path, (at) => finishByFd(fd, at, meta));
      return;
    }
    const stat = this.lstat(path);
    if (stat === undefined) return;
    if (stat.isDirectory()) {
      this.inParent(path, (at) =>
        this.withFd(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, (dirfd) =>
          finishByFd(dirfd, at, meta),
        ),
      );
      return;
    }
    // A symlink or a special file: calls that do not follow the last component, on its name in its parent.
    this.inParent(path, (at) => {
      const { owner } = meta;
      if (owner !== undefined) chownMapped(() => lchownSync(at, owner.uid, owner.gid));
      setXattrs(at, meta.xattrs);
      if (!stat.isSymbolicLink()) {
        // chmod(2) follows links: it goes through an O_PATH fd of the node itself, checked first.
        const nodefd = openInRoot(this.root, path, O_PATH | constants.O_NOFOLLOW);
        try {
          if (!fstatSync(nodefd).isSymbolicLink()) chmodSync(`/proc/self/fd/${nodefd}`, meta.mode & 0o7777);
        } finally {
          closeSync(nodefd);
        }
      }
      lutimesSync(at, meta.atime, meta.mtime);
    });
  }
}
