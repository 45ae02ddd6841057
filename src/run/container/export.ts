/**
 * `hutch export`: a container's merged root file system as a tar stream, as
 * `podman export` writes it: every file of the image's layers and of the
 * container's changes, without what is mounted over them (volumes, /proc, the
 * /etc files), owners numeric as the container sees them, hard links as tar
 * links, xattrs (not overlay's own) as PAX records, entries sorted by name.
 *
 * Runs in node inside the session, where the rootfs is mounted. The tree is
 * read without following links (openat2 RESOLVE_IN_ROOT), so a running
 * container that swaps a directory for a symlink cannot make the export read
 * host files.
 */
import type { Readable } from 'node:stream';
import { OVERLAY_XATTR, tarItems, walkTree } from '../../image/layer/diff.js';
import { tarStream } from '../../image/layer/tar-writer.js';

export interface ExportOptions {
  /** Entries newer than this get this mtime (reproducible exports). */
  timestamp?: Date;
}

/** A tar of the tree at rootfs (streaming: read it as it is written, destroy it to stop). */
export function exportRootfs(rootfs: string, options: ExportOptions = {}): Readable {
  return tarStream(
    tarItems(rootfs, walkTree(rootfs), {
      dropXattrs: OVERLAY_XATTR,
      ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    }),
  );
}
