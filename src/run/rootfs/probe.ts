/**
 * The ways a container's root file system can be assembled from image layers,
 * in order of preference. Each probe really tries what the driver needs, so
 * `hutch info` and the run code choose alike.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { messageOf } from '../../errors.js';
import { PlanChild } from '../child.js';
import type { Identity } from '../identity.js';
import { findOnPath, singleIdMapping, writeIdMaps } from '../idmap.js';
import { deviceAccess, versionLine } from '../tools.js';
import { Clone, Mount, Plan } from '../plan.js';

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
}

export type RootfsDriverName = 'overlay' | 'fuse-overlayfs' | 'copy';

export interface RootfsDriver {
  name: RootfsDriverName;
  probe(host: RootfsHost): Promise<RootfsCheck>;
}

const FUSE_OVERLAYFS_FIX =
  'install fuse-overlayfs (Debian/Ubuntu: sudo apt-get install fuse-overlayfs; Fedora: sudo dnf install fuse-overlayfs)';

/** Linux 5.11 allows overlayfs in a user namespace (with userxattr since 5.11 too). */
function kernelAtLeast(major: number, minor: number, version = release()): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

/**
 * Runs plan in a child with cloneFlags; with CLONE_NEWUSER the plan must
 * start with waitParent(): the parent maps our own ids first. Resolves when
 * the child exited 0, rejects with the failing step's error.
 */
async function runProbeChild(plan: Plan, cloneFlags: number, identity: Identity): Promise<void> {
  const child = PlanChild.start(plan, cloneFlags);
  try {
    if ((cloneFlags & Clone.NEWUSER) !== 0) {
      await writeIdMaps(child.pid, singleIdMapping(identity), {});
      child.go();
    }
    await child.done();
    const status = await child.wait();
    if (status.code !== 0) {
      throw new Error(
        status.signal !== null
          ? `the probe was killed by signal ${status.signal}`
          : `the probe exited with status ${status.code}`,
      );
    }
  } catch (error) {
    await child.abort();
    throw error;
  }
}

/** Removes a probe directory, including the mode-0 work/work overlayfs leaves behind. */
function removeProbeDir(dir: string): void {
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
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh directory under <storage>/tmp, on the file system the layers will live on. */
function makeProbeDir(storage: string, prefix: string): string {
  mkdirSync(storage, { recursive: true, mode: 0o700 });
  const tmp = join(storage, 'tmp');
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(tmp, prefix));
}

async function probeOverlay(host: RootfsHost): Promise<RootfsCheck> {
  const { identity } = host;
  const inUserns = !identity.root;
  const fix = kernelAtLeast(5, 11)
    ? `overlayfs in a user namespace needs the storage directory on a local file system such as ext4, xfs or btrfs; or ${FUSE_OVERLAYFS_FIX}`
    : `Linux 5.11 or later is needed for overlayfs in a user namespace (this is ${release()}); or ${FUSE_OVERLAYFS_FIX}`;
  let dir: string;
  try {
    dir = makeProbeDir(host.storage, 'overlay-');
  } catch (error) {
    return {
      ok: false,
      detail: `cannot create a test directory: ${messageOf(error)}`,
      fix: `check the permissions of ${host.storage}`,
    };
  }
  try {
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(dir, d)) as [
      string,
      string,
      string,
      string,
    ];
    for (const d of [lower, upper, work, merged]) mkdirSync(d, { mode: 0o700 });
    writeFileSync(join(lower, 'file'), 'lower\n', { mode: 0o644 });
    // userxattr: unprivileged overlayfs keeps its metadata in user.overlay.* xattrs (Linux 5.11).
    const options = `lowerdir=${lower},upperdir=${upper},workdir=${work}${inUserns ? ',userxattr' : ''}`;
    // Outside the session we create a user namespace of our own, mapping only our ids.
    const ownUserns = !identity.root && identity.session === undefined;
    const plan = new Plan();
    if (ownUserns) plan.waitParent();
    // Private first: a mount must not propagate to the namespace we were cloned from.
    plan
      .mount(null, '/', null, Mount.REC | Mount.PRIVATE)
      .mount('overlay', merged, 'overlay', 0, options)
      // A write through the merged view copies the file up: the mount really works.
      .writeFile(join(merged, 'file'), 'upper\n')
      .exit(0);
    await runProbeChild(plan, ownUserns ? Clone.NEWUSER | Clone.NEWNS : Clone.NEWNS, identity);
    const copied = readFileSync(join(upper, 'file'), 'utf8');
    if (copied !== 'upper\n')
      return { ok: false, detail: 'overlayfs mounted, but a write did not reach the upper directory', fix };
    const where = ownUserns ? 'in a user namespace' : identity.root ? 'as root' : 'in the hutch session';
    return { ok: true, detail: `native overlayfs mounts ${where}${inUserns ? ' (userxattr)' : ''}` };
  } catch (error) {
    return { ok: false, detail: messageOf(error), fix };
  } finally {
    removeProbeDir(dir);
  }
}

async function probeFuseOverlayfs(host: RootfsHost): Promise<RootfsCheck> {
  const path = findOnPath('fuse-overlayfs', host.pathVar);
  if (path === undefined) return { ok: false, detail: 'fuse-overlayfs not found on PATH', fix: FUSE_OVERLAYFS_FIX };
  const version = await versionLine(path, 'fuse-overlayfs');
  const fuse = deviceAccess('/dev/fuse');
  if (!fuse.ok) {
    return {
      ok: false,
      detail: `${version} at ${path}, but ${fuse.detail}`,
      fix: fuse.detail.endsWith('does not exist')
        ? 'as root: modprobe fuse'
        : 'as root: chmod 666 /dev/fuse (to keep it: a udev rule KERNEL=="fuse", MODE="0666")',
    };
  }
  return { ok: true, detail: `${version} at ${path}` };
}

/** In order of preference; the first whose probe is ok is used. */
export const rootfsDrivers: readonly RootfsDriver[] = [
  { name: 'overlay', probe: probeOverlay },
  { name: 'fuse-overlayfs', probe: probeFuseOverlayfs },
  {
    name: 'copy',
    probe: async () => ({
      ok: true,
      detail: 'copies every layer into the container: always works, but slow and uses more disk',
    }),
  },
];

export interface RootfsReport {
  drivers: ({ name: RootfsDriverName } & RootfsCheck)[];
  selected: RootfsDriverName;
}

/** Probes every driver (one after another: they share the storage directory). */
export async function probeRootfs(host: RootfsHost): Promise<RootfsReport> {
  const drivers: RootfsReport['drivers'] = [];
  for (const driver of rootfsDrivers) drivers.push({ name: driver.name, ...(await driver.probe(host)) });
  return { drivers, selected: drivers.find((d) => d.ok)?.name ?? 'copy' };
}
