/**
 * Layer tars from directory trees: diffLayer turns an overlay upper directory
 * into an OCI layer (the image spec's layer.md) without looking at the layers
 * below, as containers/storage's overlay driver does; walkTree and tarItems
 * (used by `hutch export`, src/run/container/rootfs-tar.ts) tar any tree. The tar
 * itself is written by tar-writer.ts.
 *
 * Trees are read without ever following a link: every open goes through
 * openat2 with RESOLVE_IN_ROOT and O_NOFOLLOW, every lstat, readlink and
 * xattr call through a directory fd, so a container that is still running and
 * swaps a directory for a symlink gets its own files read, never the host's.
 * Entries are sorted by name, so equal trees give equal bytes.
 */
import { closeSync, constants, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { HutchError } from '../../errors.js';

import { openInRoot, O_PATH } from '../../fs/in-root.js';
import { tarStream, type TarHeader, type TarItem, type TarType } from './tar-writer.js';
import { OVERLAY_XATTR, readXattrs } from '../../fs/xattr.js';
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './whiteout.js';

// ---------------------------------------------------------------------------
// Reading a tree without following links.

/** One entry of a tree as walkTree reads it. */
export interface WalkedEntry {
  /** Relative to the tree's root, "/"-separated, no leading slash. */
  path: string;
  stat: Stats;
  /** A symlink's target. */
  linkTarget: string | undefined;
  /** Every xattr (the caller filters). */
  xattrs: Map<string, Buffer>;
}

/** Byte order of the UTF-8 names, as Go's sort of tar entries. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The entries below root, depth first, each directory's entries sorted by
 * name, a directory before what it holds (the root itself not included).
 * descend(entry) may stop the walk below a directory. Lazy: an entry is read
 * when the consumer asks for it.
 */
export function* walkTree(
  root: string,
  options: { start?: string; descend?: (entry: WalkedEntry) => boolean } = {},
): Generator<WalkedEntry> {
  function* walkDir(rel: string): Generator<WalkedEntry> {
    const dirfd = openInRoot(
      root,
      rel === '' ? '/' : rel,
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    );
    try {
      const names = readdirSync(`/proc/self/fd/${dirfd}`).sort(compareNames);
      for (const name of names) {
        const at = `/proc/self/fd/${dirfd}/${name}`;
        const stat = lstatSync(at, { throwIfNoEntry: false });
        if (stat === undefined) continue; // removed meanwhile
        const path = rel === '' ? name : `${rel}/${name}`;
        const entry: WalkedEntry = {
          path,
          stat,
          linkTarget: stat.isSymbolicLink() ? readlinkSync(at) : undefined,
          xattrs: readXattrs(at),
        };
        yield entry;
        if (stat.isDirectory() && (options.descend?.(entry) ?? true)) yield* walkDir(path);
      }
    } finally {
      closeSync(dirfd);
    }
  }
  yield* walkDir(options.start ?? '');
}

/** Opens a file of the tree for reading, never following a link. */
export function openTreeFile(root: string, path: string): number {
  return openInRoot(root, path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** The stat of the tree's root directory itself, without following it. */
export function statTreeRoot(root: string): Stats {
  const fd = openInRoot(root, '/', O_PATH | constants.O_DIRECTORY);
  try {
    return lstatSync(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

/** major and minor of a dev_t (glibc's gnu_dev_major and gnu_dev_minor). */
export function splitDevice(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/** The tar type of what lstat found; undefined for a socket (not part of an image). */
export function tarTypeOf(stat: Stats): TarType | undefined {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'directory';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isCharacterDevice()) return 'char';
  if (stat.isBlockDevice()) return 'block';
  if (stat.isFIFO()) return 'fifo';
  return undefined;
}

/** Overlay's own xattrs (and fuse-overlayfs's): never part of a layer. */
export { OVERLAY_XATTR };

export interface PackOptions {
  /** Entries newer than this get this mtime (SOURCE_DATE_EPOCH for reproducible builds). */
  timestamp?: Date;
  /** Drop xattrs whose name this matches. */
  dropXattrs?: RegExp;
}

/**
 * Headers for the walked entries of a tree, hard links within it written as
 * tar hard links to the first name seen (in sorted order). Whatever `visit`
 * returns replaces the plain entry (undefined: the plain entry; [] to skip).
 */
export function* tarItems(
  root: string,
  entries: Iterable<WalkedEntry>,
  options: PackOptions & {
    prefix?: string;
    visit?: (entry: WalkedEntry, plain: () => TarItem[]) => TarItem[] | undefined;
  } = {},
): Generator<TarItem> {
  const seen = new Map<string, string>();
  const clamp = options.timestamp === undefined ? undefined : Math.floor(options.timestamp.getTime() / 1000);
  const prefix = options.prefix ?? '';
  for (const entry of entries) {
    const plain = (): TarItem[] => {
      const { stat } = entry;
      const type = tarTypeOf(stat);
      if (type === undefined) return [];
      const mtime = clamp !== undefined && stat.mtimeMs / 1000 > clamp ? clamp : Math.floor(stat.mtimeMs / 1000);
      const xattrs = new Map([...entry.xattrs].filter(([name]) => !(options.dropXattrs?.test(name) ?? false)));
      const header: TarHeader = {
        name: `${prefix}${entry.path}`,
        type,
        mode: stat.mode & 0o7777,
        uid: stat.uid,
        gid: stat.gid,
        size: type === 'file' ? stat.size : 0,
        mtime,
        ...(xattrs.size > 0 ? { xattrs } : {}),
      };
      if (type === 'symlink') header.linkname = entry.linkTarget ?? '';
      if (type === 'char' || type === 'block') {
        const { major, minor } = splitDevice(stat.rdev);
        header.devmajor = major;
        header.devminor = minor;
      }
      if (type !== 'directory' && stat.nlink > 1) {
        const key = `${stat.dev}:${stat.ino}`;
        const first = seen.get(key);
        if (first !== undefined) {
          // The link shares the first name's inode, and with it its metadata.
          const { xattrs: _shared, ...rest } = header;
          return [{ header: { ...rest, type: 'link', size: 0, linkname: first } }];
        }
        seen.set(key, header.name);
      }
      if (type === 'file') return [{ header, fd: openTreeFile(root, entry.path) }];
      return [{ header }];
    };
    yield* options.visit?.(entry, plain) ?? plain();
  }
}

// ---------------------------------------------------------------------------
// Layer diffs.

export interface DiffOptions {
  /** true: overlay was mounted with userxattr (rootless), its metadata is in user.overlay.*. */
  userXattrs: boolean;
  /** Entries newer than this get this mtime (SOURCE_DATE_EPOCH). */
  timestamp?: Date;
  /**
   * Paths to leave out while they are empty files, or directories holding
   * nothing but such paths: the mount points prepareRootfs made
   * (PreparedRootfs.created; "/etc/hosts" and "etc/hosts" alike).
   */
  skipEmpty?: readonly string[];
}

function isOpaque(xattrs: Map<string, Buffer>, userXattrs: boolean): boolean {
  const names = userXattrs
    ? ['user.overlay.opaque', 'user.fuseoverlayfs.opaque', 'trusted.overlay.opaque']
    : ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];
  return names.some((name) => xattrs.get(name)?.toString() === 'y');
}

/**
 * An OCI layer tar (uncompressed) of the changes an overlay upper directory
 * holds, read from upper alone:
 *
 *   upper                                   layer tar
 *   a 0:0 character device NAME             an empty file .wh.NAME
 *   a directory marked opaque               the directory, then DIR/.wh..wh..opq
 *   files, directories, links, fifos        themselves, hard links within upper as tar links
 *
 * Owners, modes, mtimes and xattrs are kept, overlay's own xattrs dropped.
 * Entries are sorted by name. An upper dir made with redirect_dir or metacopy
 * (which hutch never mounts with) cannot be diffed without the lower layers:
 * that is an error. The stream errors (and stops) on the first failure.
 */
export function diffLayer(upper: string, options: DiffOptions): Readable {
  const skip = new Set((options.skipEmpty ?? []).map((p) => p.replace(/^\/+/, '').replace(/\/+$/, '')));
  const clamp = options.timestamp === undefined ? undefined : Math.floor(options.timestamp.getTime() / 1000);
  const mtimeOf = (stat: Stats) => {
    const seconds = Math.floor(stat.mtimeMs / 1000);
    return clamp !== undefined && seconds > clamp ? clamp : seconds;
  };
  const entries = walkTree(upper);
  const items = tarItems(upper, entries, {
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    dropXattrs: OVERLAY_XATTR,
    visit: (entry, plain) => {
      const { stat, xattrs } = entry;
      for (const name of xattrs.keys()) {
        if (/\.overlay\.(redirect|metacopy)$/.test(name)) {
          throw new HutchError(
            `cannot diff ${upper}: ${entry.path} has the overlay xattr ${name} (redirect_dir or metacopy), whose content is in the layers below`,
          );
        }
      }
      if (skip.has(entry.path) && isEmptyMountPoint(upper, entry.path, entry.stat, skip)) return [];
      const slash = entry.path.lastIndexOf('/');
      const dir = slash < 0 ? '' : entry.path.slice(0, slash + 1);
      const base = entry.path.slice(slash + 1);
      if (stat.isCharacterDevice() && stat.rdev === 0) {
        return [
          {
            header: {
              name: `${dir}${WHITEOUT_PREFIX}${base}`,
              type: 'file',
              mode: stat.mode & 0o7777,
              uid: stat.uid,
              gid: stat.gid,
              size: 0,
              mtime: mtimeOf(stat),
            },
          },
        ];
      }
      if (stat.isDirectory() && isOpaque(xattrs, options.userXattrs)) {
        return [
          ...plain(),
          {
            header: {
              name: `${entry.path}/${WHITEOUT_OPAQUE}`,
              type: 'file',
              mode: stat.mode & 0o777,
              uid: stat.uid,
              gid: stat.gid,
              size: 0,
              mtime: mtimeOf(stat),
            },
          },
        ];
      }
      return undefined;
    },
  });
  return tarStream(items);
}

/** An empty file, or a directory holding only skipped mount points (recursively). */
function isEmptyMountPoint(root: string, path: string, stat: Stats, skip: ReadonlySet<string>): boolean {
  if (stat.isFile()) return stat.size === 0;
  if (!stat.isDirectory()) return false;
  const fd = openInRoot(root, path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    return readdirSync(`/proc/self/fd/${fd}`).every((name) => {
      const child = `${path}/${name}`;
      const childStat = lstatSync(`/proc/self/fd/${fd}/${name}`, { throwIfNoEntry: false });
      return childStat !== undefined && skip.has(child) && isEmptyMountPoint(root, child, childStat, skip);
    });
  } finally {
    closeSync(fd);
  }
}
