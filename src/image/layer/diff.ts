/**
 * Layer tars from directory trees: diffLayer turns an overlay upper directory
 * into an OCI layer (the image spec's layer.md) without looking at the layers
 * below, as containers/storage's overlay driver does; packTree (used by
 * `hutch export` and `hutch cp … -`) tars any tree.
 *
 * Trees are read without ever following a link: every open goes through
 * openat2 with RESOLVE_IN_ROOT and O_NOFOLLOW, every lstat, readlink and
 * xattr call through a directory fd, so a container that is still running and
 * swaps a directory for a symlink gets its own files read, never the host's.
 *
 * The tar is written here (POSIX ustar with PAX records) rather than with
 * tar-stream, whose PAX writer takes values as text and counts record lengths
 * in characters: binary xattrs (security.capability) and non-ASCII names would
 * come out corrupt. Entries are sorted by name, owners are numeric with empty
 * user and group names, so equal trees give equal bytes.
 */
import { closeSync, constants, lstatSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { native } from '../../native.js';
import { openInRoot, O_PATH } from '../../fs/in-root.js';
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './whiteout.js';

// ---------------------------------------------------------------------------
// Writing tar.

export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** Relative, no leading "./" or "/"; a directory's without its trailing "/" (added here). */
  name: string;
  type: TarType;
  /** Permission bits with setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content (files only). */
  size: number;
  /** Seconds since the epoch (whole seconds are written). */
  mtime: number;
  /** A symlink's target, or the earlier entry a hard link names. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX SCHILY.xattr.NAME records, values as raw bytes. */
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** The largest value of an octal field of `width` bytes (one byte for the NUL). */
const maxOctal = (width: number) => 8 ** (width - 1) - 1;

function writeString(block: Buffer, value: Buffer, at: number, width: number): void {
  value.copy(block, at, 0, Math.min(value.length, width));
}

function writeOctal(block: Buffer, value: number, at: number, width: number): void {
  block.write(
    `${Math.trunc(value)
      .toString(8)
      .padStart(width - 1, '0')}\0`,
    at,
    width,
    'latin1',
  );
}

/** One PAX record: `LENGTH KEY=VALUE\n`, LENGTH counting itself, in bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarBlock(fields: {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, fields.name, 0, 100);
  writeOctal(block, fields.mode, 100, 8);
  writeOctal(block, fields.uid, 108, 8);
  writeOctal(block, fields.gid, 116, 8);
  writeOctal(block, fields.size, 124, 12);
  writeOctal(block, fields.mtime, 136, 12);
  block.write(fields.typeflag, 156, 1, 'latin1');
  writeString(block, fields.linkname, 157, 100);
  block.write('ustar\0' + '00', 257, 8, 'latin1');
  writeOctal(block, fields.devmajor, 329, 8);
  writeOctal(block, fields.devminor, 337, 8);
  writeString(block, fields.prefix, 345, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** Splits a name into ustar's prefix and name fields; undefined when it does not fit. */
function splitName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    if (i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
  }
  return undefined;
}

/** The header blocks of an entry: a PAX header first when a field does not fit ustar. */
export function encodeHeader(header: TarHeader): Buffer {
  const fullName = Buffer.from(header.type === 'directory' ? `${header.name}/` : header.name);
  const linkname = Buffer.from(header.linkname ?? '');
  const records: Buffer[] = [];
  const split = splitName(fullName);
  if (split === undefined) records.push(paxRecord('path', fullName));
  if (linkname.length > 100) records.push(paxRecord('linkpath', linkname));
  const size = header.type === 'file' ? header.size : 0;
  if (size > maxOctal(12)) records.push(paxRecord('size', Buffer.from(String(size))));
  if (header.uid > maxOctal(8)) records.push(paxRecord('uid', Buffer.from(String(header.uid))));
  if (header.gid > maxOctal(8)) records.push(paxRecord('gid', Buffer.from(String(header.gid))));
  const mtime = Math.max(0, Math.trunc(header.mtime));
  if (mtime > maxOctal(12)) records.push(paxRecord('mtime', Buffer.from(String(mtime))));
  for (const [name, value] of [...(header.xattrs ?? new Map<string, Buffer>())].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  }
  const main = ustarBlock({
    name: split?.name ?? fullName.subarray(0, 100),
    prefix: split?.prefix ?? Buffer.alloc(0),
    mode: header.mode & 0o7777,
    uid: Math.min(header.uid, maxOctal(8)),
    gid: Math.min(header.gid, maxOctal(8)),
    size: Math.min(size, maxOctal(12)),
    mtime: Math.min(mtime, maxOctal(12)),
    typeflag: TYPEFLAG[header.type],
    linkname: linkname.subarray(0, 100),
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const body = Buffer.concat(records);
  // Go's archive/tar names PAX headers DIR/PaxHeaders.0/BASE; readers ignore the name.
  const slash = header.name.lastIndexOf('/');
  const paxName = Buffer.from(
    `${slash < 0 ? '' : `${header.name.slice(0, slash)}/`}PaxHeaders.0/${header.name.slice(slash + 1)}`,
  ).subarray(0, 100);
  const pax = ustarBlock({
    name: paxName,
    prefix: Buffer.alloc(0),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag: 'x',
    linkname: Buffer.alloc(0),
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([pax, body, Buffer.alloc(padding(body.length)), main]);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** What packTree writes for one tree entry: headers, and for a file the fd to read its content from. */
export interface TarItem {
  header: TarHeader;
  /** An open fd of the file's content (closed by the writer). */
  fd?: number;
}

const CHUNK = 1 << 20;

/**
 * A tar stream of items, pulled as the consumer reads (backpressure). A file
 * is written with exactly its header's size: bytes beyond are dropped, a file
 * that shrank meanwhile is padded with zeros (as GNU tar does). Destroying the
 * stream stops the walk and closes the open fd.
 */
export function tarStream(items: Iterable<TarItem>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const item of items) {
      const { header, fd } = item;
      try {
        yield encodeHeader(header);
        if (header.type !== 'file' || fd === undefined) continue;
        let left = header.size;
        const buffer = Buffer.alloc(Math.min(CHUNK, Math.max(left, 1)));
        while (left > 0) {
          const n = readSync(fd, buffer, 0, Math.min(buffer.length, left), null);
          if (n === 0) break;
          left -= n;
          yield Buffer.from(buffer.subarray(0, n));
        }
        if (left > 0) yield Buffer.alloc(left);
        const pad = padding(header.size);
        if (pad > 0) yield Buffer.alloc(pad);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: CHUNK });
}

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

function readXattrs(path: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const name of native.listxattr(path)) {
    try {
      const value = native.getxattr(path, name);
      if (value !== null) xattrs.set(name, value);
    } catch {
      // trusted.* as non-root: not readable, so not copied either
    }
  }
  return xattrs;
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
export const OVERLAY_XATTR = /^(trusted|user)\.(overlay|fuseoverlayfs)\./;

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
