/**
 * Advisory locks of the image store: flock(2) through the addon, never
 * blocking node's event loop. A lock is held by an open file description and
 * released when it is closed, so a process that dies (even by SIGKILL) drops
 * its locks, and two locks taken in one process exclude each other as locks of
 * two processes do.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdtempSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../errors.js';
import { native } from '../native.js';

export interface LockOptions {
  /** A shared (reader) lock; exclusive by default. */
  shared?: boolean;
  /** Give up after this long with a HutchError naming the lock; wait forever by default. */
  timeoutMs?: number;
}

/** Releases a lock; calling it again does nothing. */
export type Release = () => void;

function releaser(fd: number): Release {
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
}

/** Opens (creating if missing) a lock file for flock. */
function openLockFile(path: string): number {
  return openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
}

/**
 * Takes a flock on path (created if missing). Polls with a non-blocking flock
 * and a growing timer (2 ms up to 100 ms) instead of a blocking call, which
 * would stop every other task of this process while it waits.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Release> {
  const fd = openLockFile(path);
  try {
    await lockFd(fd, path, options);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return releaser(fd);
}

/** Locks an open fd (a lock file, a temp file, a directory) as acquireLock does. */
export async function lockFd(fd: number, path: string, options: LockOptions = {}): Promise<void> {
  const exclusive = options.shared !== true;
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let delay = 2;
  while (!native.flock(fd, exclusive, false)) {
    if (Date.now() >= deadline) {
      throw new HutchError(`timed out waiting for the lock ${path}`, {
        hint: 'another hutch command holds it; wait for it to finish, then retry',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** The lock if it is free right now, else undefined. */
export function tryLock(path: string, options: { shared?: boolean } = {}): Release | undefined {
  const fd = openLockFile(path);
  if (native.flock(fd, options.shared !== true, false)) return releaser(fd);
  closeSync(fd);
  return undefined;
}

/**
 * A temp file or directory is owned by whoever holds a flock on it. Returns a
 * release when nobody does (the owner died: it is a leftover), undefined while
 * a live process holds it, or when it is already gone.
 */
export function claimIfAbandoned(path: string): Release | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    // Gone, or not openable for a flock (a symlink, an unreadable directory):
    // not claimed, so it stays; a claim is what allows a removal.
    return undefined;
  }
  if (native.flock(fd, true, false)) return releaser(fd);
  closeSync(fd);
  return undefined;
}

export interface TempEntry {
  path: string;
  /** An fd on the entry that holds its flock; for a file, open for writing. */
  fd: number;
  /** Drops the flock (closes fd). Does not remove the entry. */
  release: Release;
}

const randomName = (prefix: string) => `${prefix}${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

/**
 * Whether fd holds the flock of what path names now. A reaper (reapLeftovers,
 * `system check --repair`) may claim a new entry between its creation and our
 * flock, when it looks abandoned, and remove it: then either our flock fails
 * (the reaper holds it) or path is gone or names another inode. Either way the
 * creator starts again under a new name, so no store lock is needed to tell a
 * live temp entry from a leftover.
 */
function ownsPath(fd: number, path: string): boolean {
  if (!native.flock(fd, true, false)) return false;
  const held = fstatSync(fd);
  const named = lstatSync(path, { throwIfNoEntry: false });
  return named !== undefined && named.ino === held.ino && named.dev === held.dev;
}

/** Creates a new file in dir, open for writing and flocked by this process. */
export function createTempFile(dir: string, prefix: string): TempEntry {
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, randomName(prefix));
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue;
      throw error;
    }
    if (ownsPath(fd, path)) return { path, fd, release: releaser(fd) };
    closeSync(fd);
    if (attempt >= 10) throw new HutchError(`cannot keep a temp file in ${dir}: it was removed at once, ten times`);
  }
}

/** Creates a new directory in dir (mode 0700), flocked by this process. */
export function createTempDir(dir: string, prefix: string): TempEntry {
  for (let attempt = 0; ; attempt++) {
    const path = mkdtempSync(join(dir, prefix));
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (error) {
      // A reaper took the new directory for a leftover before we could open it: a new name.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (fd !== undefined && ownsPath(fd, path)) return { path, fd, release: releaser(fd) };
    if (fd !== undefined) closeSync(fd);
    if (attempt >= 10)
      throw new HutchError(`cannot keep a temp directory in ${dir}: it was removed at once, ten times`);
  }
}

/**
 * Moves path (a file or directory of the store, on tmp's file system) into
 * dir under a new name, flocked by this process before the rename, so that
 * what waits there for removal is never taken for a dead command's leftover
 * while we remove it (and is one once we die). undefined when path is gone.
 * A symlink moves without a flock (flock(2) needs an open file).
 */
export function moveIntoTemp(path: string, dir: string, prefix: string): TempEntry | undefined {
  const target = join(dir, randomName(prefix));
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    native.flock(fd, true, false);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'ELOOP') throw error;
  }
  try {
    renameSync(path, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return { path: target, fd: fd ?? -1, release: fd === undefined ? () => undefined : releaser(fd) };
}
