/**
 * What dead commands left in the store's tmp/. Every entry there (a pull's
 * download, a layer being unpacked, a build step's workspace with its overlay,
 * a load, an index being rewritten, a tree on its way out) is flocked by the
 * process that works in it (lock.ts), and the kernel drops a flock when its
 * process dies, SIGKILL included. So one readdir and one non-blocking flock
 * per entry tell a leftover from live work, with no store lock and no walk of
 * the trees: what no live process holds has its mounts detached (a killed
 * build's overlay, which would make rmdir answer EBUSY) and is removed.
 *
 * Every command that opens the store does it (ImageStore.open), so a killed
 * pull or build is cleaned up by the next hutch command of any kind.
 * `system check` opens the store without it, reports leftovers, and removes
 * them with --repair through removeLeftover, which says what to do when it
 * cannot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, messageOf } from '../../errors.js';
import { detachMountsUnder, mountsUnder } from '../../host/detach-mounts.js';
import { claimIfAbandoned } from '../../fs/lock.js';
import { removeTree } from '../../fs/remove-tree.js';

export interface ReapReport {
  /** Leftovers removed. */
  removed: string[];
  /** Leftovers that could not be removed (left for `system check --repair`). */
  failed: { path: string; error: HutchError }[];
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** The entries of tmpDir no live process holds right now (nothing is removed). */
export function abandonedEntries(tmpDir: string): string[] {
  return entries(tmpDir)
    .map((name) => join(tmpDir, name))
    .filter((path) => {
      const release = claimIfAbandoned(path);
      release?.();
      return release !== undefined;
    });
}

/**
 * Removes path if no live process holds it: detaches the mounts at or below
 * it, then deletes it, holding its flock throughout (a creator that raced us
 * for it starts again under another name). Returns the mount points it
 * detached, or undefined when path is held by a live process or gone. Throws
 * a HutchError with a hint when it cannot. mountinfo is read when needed
 * (once for many entries, through the getter).
 */
export function removeLeftover(path: string, mountinfo?: () => string): string[] | undefined {
  const release = claimIfAbandoned(path);
  if (release === undefined) return undefined;
  try {
    const detached = detachMountsUnder(path, mountinfo?.());
    removeTree(path);
    return detached;
  } catch (error) {
    throw leftoverError(path, error);
  } finally {
    release();
  }
}

/** Why a leftover stays, and the one thing to do about it. */
export function leftoverError(path: string, cause: unknown, mountinfo?: string): HutchError {
  let mounted: string[] = [];
  try {
    mounted = mountsUnder(path, mountinfo);
  } catch {
    // no mountinfo: the hint below still applies
  }
  // The shallowest mount: a lazy unmount of it takes the ones below along.
  const top = mounted.at(-1);
  const hint =
    top !== undefined
      ? `${top} is still mounted: unmount it in hutch's session (hutch unshare umount -l ${top}), then run hutch system check --repair again`
      : `remove it from hutch's session (hutch unshare rm -rf ${path}), then run hutch system check again`;
  return new HutchError(`remove ${path}: ${messageOf(cause)}`, { hint, cause });
}

/**
 * Removes every leftover of tmpDir. Never throws: a command must not fail
 * because a dead one left something behind; what stays is reported.
 */
export function reapLeftovers(tmpDir: string): ReapReport {
  const report: ReapReport = { removed: [], failed: [] };
  let text: string | undefined;
  const mountinfo = () => (text ??= readMountinfo());
  for (const name of entries(tmpDir)) {
    const path = join(tmpDir, name);
    try {
      if (removeLeftover(path, mountinfo) !== undefined) report.removed.push(path);
    } catch (error) {
      report.failed.push({ path, error: error instanceof HutchError ? error : leftoverError(path, error) });
    }
  }
  return report;
}

function readMountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}
