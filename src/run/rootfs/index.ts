/**
 * The rootfs driver contract: how a container's root file system is assembled
 * from unpacked image layers (src/image/store/layers.ts) and taken apart
 * again. One file per driver (overlay.ts, fuse-overlayfs.ts, copy.ts), each
 * with the probe that `hutch info` lists and the run code chooses with
 * (probe.ts), so the two cannot disagree.
 *
 * Drivers run in node: inside the user's session (root of its user namespace,
 * in its mount namespace) when rootless, in the host's namespaces as real
 * root. Their mounts are made there, as podman makes them in its pause
 * process's namespace, so that every later hutch command (cp, commit, export)
 * sees a container's files.
 */
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTempDir } from '../../fs/lock.js';
import type { Identity } from '../../host/identity.js';

export interface RootfsCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** What the probes need to know about the host. */
export interface RootfsHost {
  identity: Identity;
  /** hutch's storage directory; probes work in a fresh directory under its tmp/. */
  storage: string;
  /** $PATH, to find helper programs. */
  pathVar: string | undefined;
  /** hutch's runtime directory: where the session-long choice of a driver is kept, when given. */
  runtime?: string;
  /** podman's --storage-driver: the drivers of that kind only (probe.ts storageDriverOf). */
  storageDriver?: StorageDriver;
}

/** What podman's --storage-driver names and hutch has: overlay (overlayfs, or fuse-overlayfs) and vfs (copies). */
export type StorageDriver = 'overlay' | 'vfs';

export type RootfsDriverName = 'overlay' | 'fuse-overlayfs' | 'copy';

/**
 * A container's root file system. lowers are unpacked layer directories
 * (`<storage>/layers/<hex>/diff`), the image's first layer first; upper and
 * work are the container's own (same file system as each other), target the
 * merged mount point. A scratch image (no layers) gets an empty lower made
 * beside work (`<dirname(work)>/lower-empty`).
 */
export interface RootfsLayout {
  lowers: string[];
  upper: string;
  work: string;
  target: string;
}

export interface RootfsMountOptions {
  /** true inside a user namespace (overlay metadata in user.* xattrs: userxattr). */
  rootless: boolean;
  /** Mount read-only (a view of the image, as for `hutch image mount`). */
  readonly?: boolean;
  /**
   * The upper directory need not survive a crash (a --rm container's, removed when it exits): the
   * driver may skip syncing it, as overlay's `volatile` does. podman mounts --rm containers so too.
   */
  volatile?: boolean;
}

export interface RootfsDriver {
  name: RootfsDriverName;
  /** Really tries what the driver needs; never throws. */
  probe(host: RootfsHost): Promise<RootfsCheck>;
  /**
   * Assembles layout.target (created if missing). Writes land in layout.upper
   * for the overlay drivers, in target itself for copy. Throws with nothing
   * left mounted.
   */
  mount(layout: RootfsLayout, options: RootfsMountOptions): Promise<void>;
  /** Takes target apart; idempotent (nothing mounted is not an error). Target stays, empty. */
  unmount(target: string): Promise<void>;
}

export const FUSE_OVERLAYFS_FIX =
  'install fuse-overlayfs (Debian/Ubuntu: sudo apt-get install fuse-overlayfs; Fedora: sudo dnf install fuse-overlayfs)';

/** The flocks of the probe directories this process works in (makeProbeDir), by path. */
const probeLocks = new Map<string, () => void>();

/** Removes a probe directory, including the mode-0 work/work overlayfs leaves behind. */
export function removeProbeDir(dir: string): void {
  const openUp = (path: string): void => {
    try {
      chmodSync(path, 0o700);
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) openUp(join(path, entry.name));
      }
    } catch {
      // rmSync below reports nothing either: the probe result matters, not the cleanup.
    }
  };
  openUp(dir);
  try {
    rmSync(dir, { recursive: true, force: true });
  } finally {
    probeLocks.get(dir)?.();
    probeLocks.delete(dir);
  }
}

/**
 * A fresh directory under <storage>/tmp, on the file system the layers will
 * live on; flocked until removeProbeDir, as every entry of tmp/ is while in
 * use (what nobody holds is a dead command's leftover: image/store/leftovers.ts).
 */
export function makeProbeDir(storage: string, prefix: string): string {
  mkdirSync(storage, { recursive: true, mode: 0o700 });
  const tmp = join(storage, 'tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const entry = createTempDir(tmp, prefix);
  probeLocks.set(entry.path, entry.release);
  return entry.path;
}

/** The empty lower a scratch image mounts (overlay needs at least one lower). */
export function emptyLower(layout: RootfsLayout): string {
  const dir = join(layout.work, '..', 'lower-empty');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}
