/**
 * tmpcopyup, podman's default for --tmpfs and --mount type=tmpfs: a tmpfs
 * starts with what the image (and the container's changes) hold at its
 * destination, so a file `hutch cp` put in a created container's /tmp is
 * there when /tmp is a tmpfs.
 *
 * The container's child runs raw system calls only, so it cannot copy a tree.
 * Instead, before the container starts, node mounts the tmpfs in the
 * session's mount namespace (under the container's runtime directory), copies
 * the rootfs's directory into it (src/run/copy: resolved inside the rootfs,
 * owners and modes kept), and the child binds it at the destination. Once the
 * container runs (or failed to start), node detaches its own mount: the tmpfs
 * then lives in the container's mount namespace only, and goes with it.
 * A destination with nothing to copy is left to the child's own tmpfs mount.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, Mount } from '../../host/plan.js';
import { native } from '../../native.js';
import { EntryWriter } from '../copy/entry-writer.js';
import { copyTree } from '../copy/tree-reader.js';
import { RootedTree } from '../copy/tree.js';
import type { MountSpec, TmpfsMount } from './spec.js';

export interface StagedCopyUps {
  /** The mounts with each staged tmpfs as a bind of its staging mount. */
  mounts: MountSpec[];
  /** Detaches the staging mounts from the session (idempotent). */
  release(): void;
}

function flagsOf(mount: TmpfsMount): number {
  let flags = mount.readonly ? Mount.RDONLY : 0;
  if (mount.options.includes('nosuid')) flags |= Mount.NOSUID;
  if (mount.options.includes('nodev')) flags |= Mount.NODEV;
  if (mount.options.includes('noexec')) flags |= Mount.NOEXEC;
  return flags;
}

/** Whether the rootfs has a directory with something in it at path (links followed inside it). */
function hasContent(rootfs: RootedTree, path: string): string | undefined {
  let located;
  try {
    located = rootfs.locate(path);
  } catch {
    return undefined; // a file in the way: the child's mount step says what is wrong
  }
  if (located.missing.length > 0 || located.stat?.isDirectory() !== true) return undefined;
  return rootfs.readdir(located.path).length > 0 ? located.path : undefined;
}

/**
 * Stages the copy-up tmpfs mounts of a container about to start: rootfs is
 * its mounted root file system, dir a directory of its own to mount them in.
 * Call release() once the container's child has made its mounts.
 */
export function stageCopyUps(mounts: readonly MountSpec[], rootfs: string, dir: string): StagedCopyUps {
  const staged: string[] = [];
  const release = (): void => {
    for (const path of staged.splice(0)) {
      native.umount(path, MNT_DETACH);
      rmdirSync(path);
    }
  };
  const tree = new RootedTree(rootfs);
  try {
    const result = mounts.map((mount, index): MountSpec => {
      if (mount.type !== 'tmpfs' || mount.copyUp === false) return mount;
      const source = hasContent(tree, mount.destination);
      if (source === undefined) return mount;
      const path = join(dir, `tmpfs-${index}`);
      mkdirSync(path, { recursive: true, mode: 0o700 });
      native.mount(
        'tmpfs',
        path,
        'tmpfs',
        flagsOf(mount) & ~Mount.RDONLY,
        mount.data.length > 0 ? mount.data.join(',') : null,
      );
      staged.push(path);
      const writer = new EntryWriter(new RootedTree(path), '/', { owner: (ids) => ids, overwrite: false });
      copyTree(tree, source, writer, { top: undefined });
      return {
        type: 'bind',
        source: path,
        destination: mount.destination,
        readonly: mount.readonly,
        recursive: false,
        options: mount.options,
      };
    });
    return { mounts: result, release };
  } catch (error) {
    release();
    throw error;
  }
}
