/**
 * Mounts that a dead command left behind: a build step's overlay (or
 * fuse-overlayfs) on `<storage>/tmp/build-XXXXXX/merged` stays mounted in the
 * session's mount namespace when `hutch build` is killed, and rmdir(2) of a
 * mount point answers EBUSY. Before such a directory is removed, every mount
 * at or below it is detached here: umount2(MNT_DETACH), as unmountTarget does
 * for a busy mount, deepest first. Runs in node's mount namespace, which
 * inside the session is the one the mounts were made in.
 */
import { readFileSync } from 'node:fs';
import { native } from '../native.js';
import { isWithin } from '../fs/in-root.js';
import { MNT_DETACH } from './plan.js';
import { parseMountinfo } from './mountinfo.js';

/** Mount points at or below dir in this process's mount namespace, deepest first (one entry per stacked mount). */
export function mountsUnder(dir: string, mountinfo?: string): string[] {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  return parseMountinfo(text)
    .map((m) => m.mountPoint)
    .filter((point) => point === dir || isWithin(point, dir))
    .sort((a, b) => b.split('/').length - a.split('/').length);
}

/**
 * Detaches every mount at or below dir (mountinfo: a text read earlier, for
 * many directories at once). Returns the mount points it detached. Throws
 * the SyscallError of the first refusal (EPERM: a mount locked by a more
 * privileged namespace); EINVAL (no longer a mount point) is fine.
 */
export function detachMountsUnder(dir: string, mountinfo?: string): string[] {
  const detached: string[] = [];
  for (const point of mountsUnder(dir, mountinfo)) {
    try {
      native.umount(point, MNT_DETACH);
      detached.push(point);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'EINVAL' || code === 'ENOENT') continue;
      throw error;
    }
  }
  return detached;
}
