/**
 * Unpacks a layer tar (the OCI image spec's layer.md, Docker's image spec) into
 * a directory in overlayfs's format: whiteouts become 0:0 character devices,
 * opaque markers an xattr (whiteout.ts). Every name passes the checks of
 * layer-tree.ts first; nothing is ever created, chowned, chmodded or timed
 * through a symlink.
 *
 * Runs inside hutch's user namespace session, where node is uid 0 and the
 * user's subordinate ids are mapped: lchown to the ids of the tar works for the
 * mapped ones, and the rest are refused with the fix.
 *
 * The tar is parsed by TarReader (tar-reader.ts); LayerUnpacker applies each
 * entry to the tree with sync metadata calls and writeSync of file data.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SyscallError } from '../../errors.js';
import { native } from '../../native.js';
import { ENTRY_COST, type SpaceMeter } from '../store/reserve.js';
import {
  cleanEntryName,
  cleanLinkTarget,
  LayerTree,
  MalformedLayerError,
  parentOf,
  UnsafeLayerError,
} from './layer-tree.js';
import { mapped, readIdSpace, unmappedOwner, type IdSpace } from './id-space.js';
import { TarReader, type TarEntry } from './tar-reader.js';
import { classifyWhiteout, markOpaque, writeWhiteout } from './whiteout.js';

export interface ExtractOptions {
  /** true: overlay metadata in user.* xattrs (rootless, overlay mounted with userxattr); false: trusted.* (real root). */
  userXattrs: boolean;
  /** Called once per kind of thing skipped, e.g. device nodes a user namespace may not create. */
  onWarning?: (message: string) => void;
  /**
   * Told of every entry (ENTRY_COST) and of file content before it is
   * written; its DiskReserveError stops the extraction (src/image/store/reserve.ts).
   */
  space?: SpaceMeter;
}

export interface ExtractStats {
  /** Tar members unpacked or skipped (PAX and GNU long-name headers not counted). */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Whiteouts and opaque markers. */
  whiteouts: number;
  skippedDevices: number;
}

/**
 * Unpacks an UNCOMPRESSED layer tar from source into target (an existing empty
 * dir), in overlayfs's format. Warnings are reported once the whole layer is
 * unpacked. On failure it stops reading (source is destroyed) and rejects, with
 * no file left open; what was written to target is the caller's to discard.
 * Reads source to its end, padding after the tar's end included, so a digest
 * computed upstream sees every byte.
 */
export async function extractLayer(source: Readable, target: string, options: ExtractOptions): Promise<ExtractStats> {
  const unpacker = new LayerUnpacker(target, options);
  await pipeline(source, unpacker);
  return { ...unpacker.stats };
}

/** This process's umask (proc(5) has it since Linux 4.7); undefined when unknown. */
function readUmask(): number | undefined {
  try {
    const match = /^Umask:\s+([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : parseInt(match[1] as string, 8);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// The unpacker.

function errorCode(error: unknown): string | undefined {
  return (error as { code?: unknown }).code as string | undefined;
}

const S_ISGID = 0o2000;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Skipped things, reported once per kind when the layer is done. */
interface Skipped {
  count: number;
  first: string;
  describe(count: number, first: string): string;
}

class LayerUnpacker extends TarReader {
  readonly stats: ExtractStats = { entries: 0, bytes: 0, whiteouts: 0, skippedDevices: 0 };
  private readonly tree: LayerTree;
  private readonly uids: IdSpace;
  private readonly gids: IdSpace;
  private readonly inUserNamespace: boolean;
  /**
   * Who owns what this process creates, and the umask: where a new file
   * already has the entry's owner and mode, the chown and chmod are skipped
   * (most files of an image are root's, 0644 or 0755).
   */
  private readonly ownUid = process.geteuid?.() ?? -1;
  private readonly ownGid = process.getegid?.() ?? -1;
  private readonly umask: number;
  /** Directories with the setgid bit: what is created in them takes their group. */
  private readonly setgidDirs = new Set<string>();
  private readonly skipped = new Map<string, Skipped>();
  /** Device nodes not created, so hard links to them are skipped too. */
  private readonly skippedDevices = new Set<string>();
  /** Directory times, set when everything inside was written. */
  private readonly dirTimes = new Map<string, [number, number]>();
  /** The file whose content is being written. */
  private file: { fd: number; rel: string; entry: TarEntry } | undefined;

  constructor(
    target: string,
    private readonly options: ExtractOptions,
  ) {
    super();
    this.tree = new LayerTree(target);
    this.uids = readIdSpace('/proc/self/uid_map');
    this.gids = readIdSpace('/proc/self/gid_map');
    this.inUserNamespace = this.uids.ranges !== undefined;
    this.umask = readUmask() ?? 0o777;
    if ((lstatSync(this.tree.root).mode & S_ISGID) !== 0) this.setgidDirs.add('');
  }

  protected override onEnd(): void {
    for (const [rel, [atime, mtime]] of this.dirTimes) lutimesSync(this.tree.path(rel), atime, mtime);
    for (const skipped of this.skipped.values())
      this.options.onWarning?.(skipped.describe(skipped.count, skipped.first));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.file !== undefined) {
      try {
        closeSync(this.file.fd);
      } catch {
        // already failing
      }
      this.file = undefined;
    }
    callback(error);
  }

  protected override onContent(chunk: Buffer, at: number, n: number): void {
    const file = this.file as { fd: number; rel: string; entry: TarEntry };
    this.options.space?.use(n);
    let written = 0;
    while (written < n) written += writeSync(file.fd, chunk, at + written, n - written);
    this.stats.bytes += n;
  }

  protected override onContentEnd(): void {
    const file = this.file as { fd: number; rel: string; entry: TarEntry };
    this.file = undefined;
    this.finishFile(file.fd, file.rel, file.entry);
  }

  // -------------------------------------------------------------------------
  // Entries.

  /** Applies one entry; true when it is a file whose content comes next. */
  protected override onEntry(entry: TarEntry): boolean {
    this.options.space?.use(ENTRY_COST);
    this.stats.entries++;
    if (entry.name.includes('\uFFFD')) {
      this.skip(
        'names',
        entry.name,
        (count, first) =>
          `${count} file name(s) of this layer are not UTF-8 (first: ${JSON.stringify(first)}): their invalid bytes were written as U+FFFD`,
      );
    }
    const rel = cleanEntryName(entry.name);
    const whiteout = classifyWhiteout(rel);
    switch (whiteout.kind) {
      case 'none':
        break;
      case 'meta':
        return false;
      case 'invalid':
        throw new UnsafeLayerError(entry.name, 'is a whiteout that names no file');
      case 'whiteout': {
        this.tree.ensureParent(entry.name, whiteout.target);
        this.removeAt(whiteout.target);
        this.skippedDevices.delete(whiteout.target);
        writeWhiteout(this.tree.path(whiteout.target));
        this.stats.whiteouts++;
        return false;
      }
      case 'opaque': {
        // The marker's parent is the opaque directory: make sure it is a real one.
        this.tree.ensureParent(entry.name, rel);
        markOpaque(this.tree.path(whiteout.dir), this.options.userXattrs);
        this.stats.whiteouts++;
        return false;
      }
    }
    if (rel === '') {
      if (entry.type !== 'directory') {
        throw new MalformedLayerError(
          `layer entry ${JSON.stringify(entry.name)} is the layer root but not a directory`,
        );
      }
      this.checkMapped('/', entry);
      this.applyMetadata('', this.tree.root, entry);
      this.dirTimes.set('', [entry.atime, entry.mtime]);
      if ((entry.mode & S_ISGID) !== 0) this.setgidDirs.add('');
      else this.setgidDirs.delete('');
      return false;
    }
    // Before anything is written: lchown fails with EINVAL on an owner the namespace does not map
    // (a hard link has its target's owner).
    if (entry.type !== 'link') this.checkMapped(rel, entry);
    this.tree.ensureParent(entry.name, rel);
    // Whatever this entry makes replaces a device that was skipped there.
    if (this.skippedDevices.size > 0) this.skippedDevices.delete(rel);
    switch (entry.type) {
      case 'file':
        return this.startFile(rel, entry);
      case 'directory':
        this.makeDirectory(rel, entry);
        break;
      case 'symlink':
        this.makeSymlink(rel, entry);
        break;
      case 'link':
        this.makeHardLink(rel, entry);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        this.makeNode(rel, entry);
        break;
    }
    return false;
  }

  /** Creates the file; its content and then its metadata come through onContent and onContentEnd. */
  private startFile(rel: string, entry: TarEntry): boolean {
    const path = this.tree.path(rel);
    // Created with its permission bits already (the fd is writable whatever they say).
    const mode = entry.mode & 0o777;
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS, mode);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      this.removeAt(rel);
      fd = openSync(path, OPEN_FLAGS, mode);
    }
    this.file = { fd, rel, entry };
    return true;
  }

  /** Owner, xattrs, mode, times, in that order: chown(2) clears setuid bits and file capabilities. */
  private finishFile(fd: number, rel: string, entry: TarEntry): void {
    try {
      if (this.needsChown(rel, entry)) fchownSync(fd, entry.uid, entry.gid);
      if (entry.xattrs !== undefined) this.setXattrs(rel, this.tree.path(rel), entry.xattrs);
      // The umask took bits off, or there are setuid, setgid or sticky bits (which chown clears).
      if ((entry.mode & 0o7000) !== 0 || (entry.mode & this.umask) !== 0) fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.atime, entry.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private makeDirectory(rel: string, entry: TarEntry): void {
    const path = this.tree.path(rel);
    // A later entry for a directory updates its metadata; anything else at the path goes.
    if (!this.tree.isKnownDir(rel)) {
      try {
        mkdirSync(path, 0o700);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
        const stat = lstatSync(path);
        if (!stat.isDirectory()) {
          this.remove(rel, stat);
          mkdirSync(path, 0o700);
        }
      }
    }
    this.tree.addDir(rel);
    this.applyMetadata(rel, path, entry);
    this.dirTimes.set(rel, [entry.atime, entry.mtime]);
    if ((entry.mode & S_ISGID) !== 0) this.setgidDirs.add(rel);
    else this.setgidDirs.delete(rel);
  }

  private makeSymlink(rel: string, entry: TarEntry): void {
    // The target is data: it may point anywhere, and is never followed here; symlink(2) takes no empty
    // one (ENOENT), and a NUL would cut it short.
    if (entry.linkname === '' || entry.linkname.includes('\0')) {
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(entry.name)} is a symbolic link to ${entry.linkname === '' ? 'an empty name' : 'a name with a NUL byte'}`,
      );
    }
    this.create(rel, (path) => symlinkSync(entry.linkname, path));
    const path = this.tree.path(rel);
    if (this.needsChown(rel, entry)) lchownSync(path, entry.uid, entry.gid);
    if (entry.xattrs !== undefined) this.setXattrs(rel, path, entry.xattrs);
    lutimesSync(path, entry.atime, entry.mtime);
  }

  private makeHardLink(rel: string, entry: TarEntry): void {
    const target = cleanLinkTarget(entry.name, entry.linkname);
    if (target === rel) return;
    if (this.skippedDevices.has(target)) {
      this.skipDevice(rel);
      return;
    }
    const stat = this.tree.checkLinkTarget(entry.name, target);
    if (stat.isDirectory()) {
      throw new MalformedLayerError(
        `layer entry ${JSON.stringify(entry.name)} is a hard link to the directory ${JSON.stringify(target)}`,
      );
    }
    // The link shares the target's inode, and with it the target's metadata.
    const targetPath = this.tree.path(target);
    this.create(rel, (path) => linkSync(targetPath, path));
  }

  private makeNode(rel: string, entry: TarEntry): void {
    const kind =
      entry.type === 'char' ? constants.S_IFCHR : entry.type === 'block' ? constants.S_IFBLK : constants.S_IFIFO;
    const isDevice = entry.type !== 'fifo';
    try {
      this.create(rel, (path) =>
        native.mknod(path, kind | (entry.mode & 0o777), isDevice ? entry.devmajor : 0, isDevice ? entry.devminor : 0),
      );
    } catch (error) {
      if (isDevice && this.inUserNamespace && errorCode(error) === 'EPERM') {
        this.skipDevice(rel);
        return;
      }
      throw error;
    }
    this.applyMetadata(rel, this.tree.path(rel), entry);
    lutimesSync(this.tree.path(rel), entry.atime, entry.mtime);
  }

  /**
   * Owner, xattrs, then mode of something that is not a symlink and is not open
   * (a directory, a device, a fifo). chmodSync follows a symlink, but path was
   * just made or checked by this extractor and nothing else writes here.
   */
  private applyMetadata(rel: string, path: string, entry: TarEntry): void {
    if (this.needsChown(rel, entry)) lchownSync(path, entry.uid, entry.gid);
    if (entry.xattrs !== undefined) this.setXattrs(rel, path, entry.xattrs);
    chmodSync(path, entry.mode);
  }

  private checkMapped(rel: string, entry: TarEntry): void {
    if (!mapped(this.uids, entry.uid)) throw unmappedOwner(rel, 'uid', entry.uid, this.uids);
    if (!mapped(this.gids, entry.gid)) throw unmappedOwner(rel, 'gid', entry.gid, this.gids);
  }

  /**
   * Whether what was just created at rel needs chown(2) to get the entry's
   * owner: not when it is ours already and its directory is not setgid.
   */
  private needsChown(rel: string, entry: TarEntry): boolean {
    return entry.uid !== this.ownUid || entry.gid !== this.ownGid || rel === '' || this.setgidDirs.has(parentOf(rel));
  }

  private setXattrs(rel: string, path: string, xattrs: Map<string, Buffer>): void {
    for (const [name, value] of xattrs) {
      // Overlay's own metadata (opaque, redirect, metacopy, origin) comes from
      // whiteout entries only: a layer must not steer overlay's lookups.
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
        this.skip(
          `xattr ${name}`,
          rel,
          (count, first) =>
            `skipped the xattr ${name} on ${count} file(s) of this layer (first: ${first}): overlay metadata is not taken from layer tars`,
        );
        continue;
      }
      try {
        native.setxattr(path, name, value);
      } catch (error) {
        const code = error instanceof SyscallError ? error.code : undefined;
        // A value the kernel cannot take (a security.capability of the wrong size, say): the tar is wrong.
        if (code === 'EINVAL') {
          throw new MalformedLayerError(
            `layer entry ${JSON.stringify(rel)} has an xattr ${name} whose value the kernel refuses (${(error as Error).message})`,
          );
        }
        const unsupported = code === 'ENOTSUP' || code === 'EOPNOTSUPP';
        // user.* xattrs exist on files and directories only; a user namespace may not set trusted.*.
        const refused = code === 'EPERM' && (this.inUserNamespace || name.startsWith('user.'));
        if (!unsupported && !refused) throw error;
        const why = unsupported ? 'the file system does not support it' : 'it may not be set here';
        this.skip(
          `xattr ${name}`,
          rel,
          (count, first) =>
            `skipped the xattr ${name} on ${count} file(s) of this layer (first: ${first}): ${why} (${code})`,
        );
      }
    }
  }

  /** A device node a user namespace may not create (or a hard link to one). */
  private skipDevice(rel: string): void {
    this.stats.skippedDevices++;
    this.skippedDevices.add(rel);
    this.skip(
      'devices',
      rel,
      (count, first) =>
        `skipped ${count} device node(s) of this layer (first: ${first}): a user namespace may not create devices; ` +
        'containers get theirs from the runtime',
    );
  }

  private skip(kind: string, rel: string, describe: (count: number, first: string) => string): void {
    const known = this.skipped.get(kind);
    if (known !== undefined) known.count++;
    else this.skipped.set(kind, { count: 1, first: rel, describe });
  }

  /**
   * make(path) creates rel; when something is in the way (EEXIST), it is
   * removed and make is tried once more. A non-directory entry replaces what
   * was there, a directory included, as in containers/storage.
   */
  private create(rel: string, make: (path: string) => void): void {
    const path = this.tree.path(rel);
    try {
      make(path);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      this.removeAt(rel);
      make(path);
    }
  }

  private removeAt(rel: string): void {
    const stat = lstatSync(this.tree.path(rel), { throwIfNoEntry: false });
    if (stat !== undefined) this.remove(rel, stat);
  }

  /** Removes rel (never following a symlink) and forgets what was known of it and below it. */
  private remove(rel: string, stat: Stats): void {
    const path = this.tree.path(rel);
    if (!stat.isDirectory()) {
      unlinkSync(path);
      return;
    }
    rmSync(path, { recursive: true, force: true });
    this.tree.forget(rel);
    const prefix = `${rel}/`;
    for (const dir of this.dirTimes.keys()) if (dir === rel || dir.startsWith(prefix)) this.dirTimes.delete(dir);
  }
}
