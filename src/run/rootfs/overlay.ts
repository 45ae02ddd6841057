/**
 * The overlay driver: the kernel's overlayfs (Documentation/filesystems/overlayfs.rst),
 * with `userxattr` inside a user namespace (Linux 5.11). The first choice.
 *
 * mount(2) copies at most one page of options, and an image's layer paths
 * are long (`<storage>/layers/<64 hex>/diff`). As containers/storage does, each
 * layer gets a short symlink `<storage>/layers/l/<id> -> ../<hex>/diff`, made
 * once and reused; the lowerdir option names the links. When even absolute
 * links do not fit in a page (an image of about 60 layers and more), the mount
 * is made by a plan child that first changes directory to `<storage>/layers`
 * and names the links relative to it: node itself cannot chdir (its cwd is
 * the process's, shared by every thread). Such a child shares node's mount
 * namespace, so the mount lands where node's would.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { HutchError, messageOf, SyscallError } from '../../errors.js';
import { native } from '../../native.js';
import { SHORT_LINKS } from '../../image/store/layers.js';
import { Clone, MNT_DETACH, Mount, Plan } from '../../host/plan.js';
import {
  emptyLower,
  FUSE_OVERLAYFS_FIX,
  makeProbeDir,
  removeProbeDir,
  type RootfsCheck,
  type RootfsDriver,
  type RootfsHost,
  type RootfsLayout,
  type RootfsMountOptions,
} from './index.js';
import { kernelAtLeast } from '../../host/kernel.js';
import { runPlanChild } from '../../host/plan-child.js';

/** mount(2) copies one page of options (copy_mount_options); 4096 on every platform hutch runs on but 64K-page ones. */
export const MOUNT_OPTIONS_LIMIT = 4096;

/** Base32 (RFC 4648 alphabet, as containers/storage's link names). */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/**
 * The short link of a layer directory `<layers>/<name>/diff`:
 * `<layers>/l/<20 base32 characters of sha256(name)>` (100 bits), made if
 * missing (idempotent; safe when several commands make it at once). Should a
 * different layer hold that name already, the layer gets the full 52-character
 * name instead. A directory not shaped `<layers>/<name>/diff` is used as it is.
 */
export function layerLink(lower: string): { layersDir: string; name: string } | undefined {
  if (basename(lower) !== 'diff') return undefined;
  const layerDir = dirname(lower);
  const layersDir = dirname(layerDir);
  const layerName = basename(layerDir);
  const linkTarget = `../${layerName}/diff`;
  const linkDir = join(layersDir, SHORT_LINKS);
  mkdirSync(linkDir, { recursive: true, mode: 0o755 });
  const full = base32(createHash('sha256').update(layerName).digest());
  for (const name of [full.slice(0, 20), full]) {
    const link = join(linkDir, name);
    try {
      symlinkSync(linkTarget, link);
      return { layersDir, name: `l/${name}` };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (readlinkSync(link) === linkTarget) return { layersDir, name: `l/${name}` };
  }
  throw new HutchError(`layer ${layerDir}: both of its short link names in ${linkDir} point elsewhere`, {
    hint: `remove ${linkDir}: hutch recreates the links it needs`,
  });
}

/** lowerdir for the kernel: top layer first, each path with its ',' ':' and '\' escaped. */
function lowerdirOption(paths: string[]): string {
  return [...paths].reverse().map(escapeOption).join(':');
}

function escapeOption(path: string): string {
  return path.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/** The mount option string, and the directory it is relative to (undefined: absolute). */
export interface OverlayOptions {
  data: string;
  cwd: string | undefined;
}

/**
 * Chooses how to name the layers: absolute short links when they fit in a
 * page, else links relative to the layers directory (which the mount must be
 * made from). Throws a HutchError naming the limit when neither fits.
 */
export function overlayOptions(layout: RootfsLayout, options: RootfsMountOptions): OverlayOptions {
  const lowers = layout.lowers.length === 0 ? [emptyLower(layout)] : layout.lowers;
  const links = lowers.map((lower) => ({ lower, link: layerLink(lower) }));
  let extra = options.rootless ? ',userxattr' : ',redirect_dir=off,metacopy=off';
  // volatile (Linux 5.10; userxattr needs 5.11): no sync of the upper, on the way or at unmount, where a
  // sync of the whole upper file system cost up to tens of ms on a busy disk at every --rm container's exit.
  if (options.volatile === true && (options.rootless || kernelAtLeast(5, 10))) extra += ',volatile';
  const build = (lowerdir: string, upper: string, work: string) =>
    `lowerdir=${lowerdir},upperdir=${escapeOption(upper)},workdir=${escapeOption(work)}${extra}`;

  const absolute = build(
    lowerdirOption(links.map(({ lower, link }) => (link === undefined ? lower : join(link.layersDir, link.name)))),
    layout.upper,
    layout.work,
  );
  if (Buffer.byteLength(absolute) < MOUNT_OPTIONS_LIMIT) return { data: absolute, cwd: undefined };

  const layersDirs = new Set(links.map(({ link }) => link?.layersDir));
  const cwd = links[0]?.link?.layersDir;
  if (layersDirs.size === 1 && cwd !== undefined) {
    const shorter = (path: string) => {
      const rel = relative(cwd, path);
      return rel.length < path.length ? rel : path;
    };
    const relativeData = build(
      lowerdirOption(links.map(({ link }) => (link as { name: string }).name)),
      shorter(layout.upper),
      shorter(layout.work),
    );
    if (Buffer.byteLength(relativeData) < MOUNT_OPTIONS_LIMIT) return { data: relativeData, cwd };
  }
  throw new HutchError(
    `cannot mount ${layout.lowers.length} layers with overlayfs: even with short layer links its options take ` +
      `${Buffer.byteLength(absolute)} bytes, and mount(2) accepts ${MOUNT_OPTIONS_LIMIT - 1} (one page)`,
    {
      hint: 'squash the image into fewer layers (hutch build --squash), or use a shorter storage path (XDG_DATA_HOME)',
    },
  );
}

async function mountOverlay(layout: RootfsLayout, options: RootfsMountOptions): Promise<void> {
  for (const dir of [layout.upper, layout.work, layout.target]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  // A volatile mount leaves work/incompat/volatile behind, and overlay refuses to mount over it again
  // (Documentation/filesystems/overlayfs.rst, "Volatile mount"); only --rm containers mount so, and what
  // a volatile upper holds after a crash is theirs to lose.
  rmSync(join(layout.work, 'work', 'incompat'), { recursive: true, force: true });
  const { data, cwd } = overlayOptions(layout, options);
  const flags = options.readonly === true ? Mount.RDONLY : 0;
  try {
    if (cwd === undefined) {
      native.mount('overlay', layout.target, 'overlay', flags, data);
    } else {
      // A child in node's namespaces (no CLONE_NEW*): only its cwd differs.
      await runPlanChild(new Plan().chdir(cwd).mount('overlay', layout.target, 'overlay', flags, data).exit(0), 0);
    }
  } catch (error) {
    throw new HutchError(`mount the container's root file system (overlay) at ${layout.target}: ${messageOf(error)}`, {
      cause: error,
      hint:
        error instanceof SyscallError && error.code === 'EINVAL'
          ? "dmesg shows the kernel's reason (overlayfs: …); upper and work must be on one file system that supports the user.* xattrs"
          : undefined,
    });
  }
}

/**
 * Unmounts target (a mount in node's namespace). Idempotent: a target that is
 * not a mount point is fine. A busy mount (a process still inside) is detached.
 */
export async function unmountTarget(target: string): Promise<void> {
  try {
    native.umount(target, 0);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    if (error.code === 'EINVAL' || error.code === 'ENOENT') return;
    if (error.code !== 'EBUSY') throw error;
    native.umount(target, MNT_DETACH);
  }
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
    try {
      await runPlanChild(plan, ownUserns ? Clone.NEWUSER | Clone.NEWNS : Clone.NEWNS, identity);
    } catch (error) {
      return { ok: false, detail: messageOf(error).replace(/^the child/, 'the probe'), fix };
    }
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

export const overlayDriver: RootfsDriver = {
  name: 'overlay',
  probe: probeOverlay,
  mount: mountOverlay,
  unmount: unmountTarget,
};
