// The only module that loads the addon. Its exact shape is declared here.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SyscallError, useStrerror } from './errors.js';
import { packageRoot } from './package.js';

export interface ChildReport {
  kind: 'failed' | 'notify';
  step: number;
  errno: number;
  tag: number;
}

export interface SpawnedChild {
  pid: number;
  pidfd: number;
  syncFd: number;
}

export interface ChildStatus {
  pid: number;
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  /** Signal number, or null when it exited. */
  signal: number | null;
}

export interface FsStats {
  type: number;
  flags: number;
  blockSize: number;
  blocks: number;
  blocksFree: number;
  blocksAvailable: number;
}

export interface Native {
  setErrorClass(errorClass: typeof SyscallError): void;
  /** Clones a child that runs the encoded plan (src/host/plan.ts). */
  spawnPlan(plan: Buffer, cloneFlags: number): SpawnedChild;
  /** Resolves when fd is readable or hung up (for a pidfd: the process exited). */
  pollReadable(fd: number): Promise<void>;
  /** The next report on a sync socket: null at EOF, undefined when none is pending. */
  recvReport(fd: number): ChildReport | null | undefined;
  sendByte(fd: number, byte: number): void;
  /** Reaps the process behind pidfd; null while it runs (when block is false). */
  waitPidfd(pidfd: number, block: boolean): ChildStatus | null;
  pidfdSendSignal(pidfd: number, signal: number): void;
  pidfdOpen(pid: number): number;
  /** Replaces this process. Returns only by throwing. */
  execve(path: string, argv: string[], env: string[]): never;
  /** false when wait is false and another process holds the lock. */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  getxattr(path: string, name: string): Buffer | null;
  statfs(path: string): FsStats;
  strerror(errno: number): string;
  /** cfmakeraw(3) on a terminal; returns the settings restoreTerminal gives back. */
  makeRaw(fd: number): Buffer;
  restoreTerminal(fd: number, saved: Buffer): void;
  /** lsetxattr(2): never follows a symlink. */
  setxattr(path: string, name: string, value: Buffer): void;
  /** llistxattr(2): the names, [] where the file system has no xattrs. */
  listxattr(path: string): string[];
  /** mknod(2); an overlay whiteout is a character device 0:0. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /**
   * mount(2) in node's own mount namespace (inside the session: the session's,
   * where rootfs mounts are made so that every hutch command reaches them).
   */
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  /** umount2(2); flags: MNT_DETACH = 2. */
  umount(target: string, flags: number): void;
  /** openat2(2), O_CLOEXEC always added; dirfd may be AT_FDCWD (-100); resolve: RESOLVE_* bits. */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /**
   * Opens path as if root were "/": absolute symlinks and ".." never leave root
   * (RESOLVE_IN_ROOT), /proc magic links are refused (RESOLVE_NO_MAGICLINKS).
   * Linux 5.6+; ENOSYS before. O_CLOEXEC is always added.
   */
  openInRoot(root: string, path: string, flags: number, mode: number): number;
  /** mkdir of path's last component (never followed: a symlink there is EEXIST), its parent resolved as openInRoot does. */
  mkdirInRoot(root: string, path: string, mode: number): void;
  /** renameat2(2); flags: RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2. Dirfds may be AT_FDCWD (-100). */
  renameat2(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): void;
}

/** openat2(2) RESOLVE_* bits (include/uapi/linux/openat2.h). */
export const Resolve = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

export const AT_FDCWD = -100;
export const RENAME_NOREPLACE = 1;

function load(): Native {
  const require = createRequire(import.meta.url);
  const flavour = process.env.HUTCH_DEBUG_BUILD === '1' ? 'Debug' : 'Release';
  const addon = require(join(packageRoot, 'build', flavour, 'hutch_native.node')) as Native;
  addon.setErrorClass(SyscallError);
  useStrerror(addon.strerror);
  return addon;
}

export const native: Native = load();
