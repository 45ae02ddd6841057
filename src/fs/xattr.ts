/**
 * Extended attributes of a path (never following a final symlink: the addon's
 * wrappers are the l*xattr calls), read and written as a name → value map.
 * What cannot be read here is left out rather than failing: trusted.* needs
 * CAP_SYS_ADMIN in the initial user namespace, so a rootless hutch neither sees
 * nor copies those values.
 */
import { SyscallError } from '../errors.js';
import { native } from '../native.js';

/** overlayfs' and fuse-overlayfs' own attributes (opaque, redirect, origin…), in both namespaces. */
export const OVERLAY_XATTR = /^(trusted|user)\.(overlay|fuseoverlayfs)\./;

/** Every xattr of path this process can read. */
export function readXattrs(path: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const name of native.listxattr(path)) {
    try {
      const value = native.getxattr(path, name);
      if (value !== null) xattrs.set(name, value);
    } catch {
      // not readable here (trusted.*): left out
    }
  }
  return xattrs;
}

/** The xattrs worth copying from one tree to another: all but overlay's own. */
export function withoutOverlayXattrs(xattrs: Map<string, Buffer>): Map<string, Buffer> {
  return new Map([...xattrs].filter(([name]) => !OVERLAY_XATTR.test(name)));
}

/**
 * Sets each xattr on path. One the file system does not support (ENOTSUP) or
 * this process may not set (EPERM: trusted.*, security.* outside the initial
 * user namespace) is skipped; any other failure throws.
 */
export function setXattrs(path: string, xattrs: Map<string, Buffer>): void {
  for (const [name, value] of xattrs) {
    try {
      native.setxattr(path, name, value);
    } catch (error) {
      const code = error instanceof SyscallError ? error.code : (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw error;
    }
  }
}
