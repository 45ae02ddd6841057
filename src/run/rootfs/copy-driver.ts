/**
 * The copy driver: every layer copied into the target in order, whiteouts
 * applied (podman's vfs driver). Always works, but a container costs the
 * image's full size in disk and time, and there is no upper directory: writes
 * land in the target itself, so a commit cannot take a layer diff from it.
 *
 * The layers are in overlay's format (src/image/layer/whiteout.ts): a 0:0
 * character device removes the path below it, an opaque directory
 * ({user,trusted}.overlay.opaque = y) hides what the layers below have in it.
 * Copies keep owners, modes, times, xattrs (not overlay's own) and the hard
 * links within a layer. Nothing is ever followed: every step works on lstat
 * and on paths whose parents this copy made real directories.
 */
import {
  chmodSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { SyscallError } from '../../errors.js';
import { native } from '../../native.js';
import type { RootfsCheck, RootfsDriver, RootfsLayout } from './index.js';
import { removeTree } from '../../fs/remove-tree.js';

const OVERLAY_XATTR = /^(trusted|user)\.(overlay|fuseoverlayfs)\./;

/** Whether a directory of a layer is opaque, in either xattr namespace. */
export function isOpaqueDir(path: string): boolean {
  for (const name of ['user.overlay.opaque', 'trusted.overlay.opaque', 'user.fuseoverlayfs.opaque']) {
    if (native.getxattr(path, name)?.toString() === 'y') return true;
  }
  return false;
}

/** A 0:0 character device: overlay's whiteout. */
export function isWhiteout(stat: Stats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0;
}

/** The xattrs of path worth copying: all but overlay's own. */
export function copyableXattrs(path: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const name of native.listxattr(path)) {
    if (OVERLAY_XATTR.test(name)) continue;
    let value: Buffer | null;
    try {
      value = native.getxattr(path, name);
    } catch {
      continue; // trusted.* outside real root: not readable, not ours to copy
    }
    if (value !== null) xattrs.set(name, value);
  }
  return xattrs;
}

function setXattrs(path: string, xattrs: Map<string, Buffer>): void {
  for (const [name, value] of xattrs) {
    try {
      native.setxattr(path, name, value);
    } catch (error) {
      const code = error instanceof SyscallError ? error.code : undefined;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw error;
    }
  }
}

/** Owner, xattrs, mode, times, in that order: chown(2) clears setuid bits and file capabilities. */
function applyMetadata(source: string, target: string, stat: Stats): void {
  lchownSync(target, stat.uid, stat.gid);
  setXattrs(target, copyableXattrs(source));
  if (!stat.isSymbolicLink()) chmodSync(target, stat.mode & 0o7777);
  lutimesSync(target, stat.atime, stat.mtime);
}

/** major and minor of a dev_t (glibc's gnu_dev_major/minor). */
function splitDevice(rdev: bigint): [number, number] {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return [Number(major & 0xffffffffn), Number(minor & 0xffffffffn)];
}

function removePath(path: string, stat: Stats): void {
  if (stat.isDirectory()) rmSync(path, { recursive: true, force: true });
  else unlinkSync(path);
}

/**
 * Copies one layer directory over target (a real directory): what the layer
 * has replaces what target has, whiteouts delete, opaque directories are
 * emptied first. links maps a layer inode to the target path made for it.
 */
function copyLayerDir(source: string, target: string, links: Map<number, string>): void {
  for (const name of readdirSync(source).sort()) {
    const from = join(source, name);
    const to = join(target, name);
    const stat = lstatSync(from);
    const existing = lstatSync(to, { throwIfNoEntry: false });
    if (isWhiteout(stat)) {
      if (existing !== undefined) removePath(to, existing);
      continue;
    }
    if (stat.isDirectory()) {
      if (existing !== undefined && (!existing.isDirectory() || isOpaqueDir(from))) removePath(to, existing);
      if (existing === undefined || !existing.isDirectory() || isOpaqueDir(from)) mkdirSync(to, 0o700);
      copyLayerDir(from, to, links);
      applyMetadata(from, to, stat);
      continue;
    }
    if (existing !== undefined) removePath(to, existing);
    const first = stat.nlink > 1 ? links.get(stat.ino) : undefined;
    if (first !== undefined) {
      linkSync(first, to);
      continue;
    }
    if (stat.isFile()) {
      copyFileSync(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    } else if (stat.isSymbolicLink()) {
      symlinkSync(readlinkSync(from), to);
    } else if (stat.isFIFO() || stat.isCharacterDevice() || stat.isBlockDevice()) {
      const [major, minor] = splitDevice(lstatSync(from, { bigint: true }).rdev);
      native.mknod(to, stat.mode, major, minor);
    } else {
      continue; // sockets are not part of an image
    }
    applyMetadata(from, to, stat);
    if (stat.nlink > 1) links.set(stat.ino, to);
  }
}

/** Copies the layers into target in order (the image's first layer first). */
export function copyLayers(lowers: readonly string[], target: string): void {
  for (const lower of lowers) {
    copyLayerDir(lower, target, new Map());
    applyMetadata(lower, target, lstatSync(lower));
  }
}

async function mountCopy(layout: RootfsLayout): Promise<void> {
  mkdirSync(layout.target, { recursive: true, mode: 0o755 });
  emptyDir(layout.target);
  try {
    copyLayers(layout.lowers, layout.target);
  } catch (error) {
    emptyDir(layout.target);
    throw error;
  }
}

function emptyDir(dir: string): void {
  for (const name of readdirSync(dir)) removeTree(join(dir, name));
}

async function unmountCopy(target: string): Promise<void> {
  if (lstatSync(target, { throwIfNoEntry: false })?.isDirectory() !== true) return;
  emptyDir(target);
}

export const copyDriver: RootfsDriver = {
  name: 'copy',
  probe: async (): Promise<RootfsCheck> => ({
    ok: true,
    detail: 'copies every layer into the container: always works, but slow and uses more disk',
  }),
  mount: mountCopy,
  unmount: unmountCopy,
};
