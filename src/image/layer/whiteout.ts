/**
 * Whiteouts: how a layer tar says "deleted" (the OCI image spec's layer.md,
 * inherited from AUFS), and how overlayfs says it on disk
 * (Documentation/filesystems/overlayfs.rst). One function per kind.
 *
 *   tar entry             on disk (overlay's format)
 *   dir/.wh.NAME          dir/NAME is a character device 0:0
 *   dir/.wh..wh..opq      dir has the xattr {user,trusted}.overlay.opaque = "y"
 *   .wh..wh.* otherwise   AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): skipped
 */
import { constants } from 'node:fs';
import { native } from '../../native.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

export type Whiteout =
  /** An ordinary entry. */
  | { kind: 'none' }
  /** Deletes `target` (relative to the layer root) of the layers below. */
  | { kind: 'whiteout'; target: string }
  /** Hides everything the layers below have in `dir`. */
  | { kind: 'opaque'; dir: string }
  /** AUFS metadata, or something inside it. */
  | { kind: 'meta' }
  /** `.wh.`, `.wh..` or `.wh...`: names nothing that could be deleted. */
  | { kind: 'invalid' };

const NONE: Whiteout = { kind: 'none' };

/** What a cleaned entry path (see paths.ts) means as a whiteout. */
export function classifyWhiteout(rel: string): Whiteout {
  // The common case, checked first: no component starts with .wh.
  if (!rel.startsWith(WHITEOUT_PREFIX) && !rel.includes(`/${WHITEOUT_PREFIX}`)) return NONE;
  const parts = rel.split('/');
  const base = parts.pop() as string;
  if (parts.some((p) => p.startsWith(WHITEOUT_META_PREFIX))) return { kind: 'meta' };
  const dir = parts.join('/');
  if (base === WHITEOUT_OPAQUE) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  if (!base.startsWith(WHITEOUT_PREFIX)) return NONE;
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') return { kind: 'invalid' };
  return { kind: 'whiteout', target: dir === '' ? name : `${dir}/${name}` };
}

/**
 * Makes path an overlay whiteout: a character device with device number 0:0.
 * The caller removed whatever was there. Inside a user namespace this is the
 * one device mknod(2) allows (vfs_mknod lets anyone make a whiteout).
 */
export function writeWhiteout(path: string): void {
  native.mknod(path, constants.S_IFCHR, 0, 0);
}

/** The xattr that marks a directory opaque: user.* when overlay is mounted with userxattr (rootless). */
export function opaqueXattr(userXattrs: boolean): string {
  return userXattrs ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
}

const YES = Buffer.from('y');

/** Marks the directory at path opaque: the layers below it contribute nothing to it. */
export function markOpaque(path: string, userXattrs: boolean): void {
  native.setxattr(path, opaqueXattr(userXattrs), YES);
}
