/**
 * The reading half of `hutch cp`: a node of a tree and everything below it as
 * entries named for the destination (buildah's copier Get). With a top name
 * the node itself is the first entry (a directory keeps its name, or takes
 * the one the destination gives it); without, a directory's content is
 * copied (the "DIR/." form). Links inside are copied as links; files that
 * share an inode become hard links to the first name written.
 */
import { closeSync, readSync, type Stats } from 'node:fs';
import { splitDevice } from '../../image/layer/diff.js';
import { cleanPath } from '../../fs/in-root.js';
import { EntryWriter, type CopyEntry, type EntryKind } from './entry-writer.js';
import { errorCode, type RootedTree } from './tree.js';

export interface ReadOptions {
  /** The name the node gets under the destination; undefined: a directory's content, without itself. */
  top: string | undefined;
  /** Paths of the tree not copied, nor anything below (a running container's /proc, /sys and /dev). */
  skip?: (treePath: string) => boolean;
  /**
   * Files that cannot be opened (EACCES, EPERM) are left out: in a running
   * rootless container some belong to ids the user namespace does not map.
   */
  ignoreUnreadable?: boolean;
}

/** An entry as read, with where it is in the tree. */
export interface ReadEntry {
  entry: CopyEntry;
  /** Its path in the source tree. */
  path: string;
  /** The entry name of an earlier file with the same inode: write a hard link to it. */
  linkTo?: string;
}

function kindOf(stat: Stats): EntryKind | undefined {
  if (stat.isDirectory()) return 'directory';
  if (stat.isFile()) return 'file';
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFIFO()) return 'fifo';
  if (stat.isCharacterDevice()) return 'char';
  if (stat.isBlockDevice()) return 'block';
  return undefined; // a socket: nothing a copy can recreate
}

/** The entries of path and below, a directory before what it holds, names sorted. Lazy. */
export function* readTree(source: RootedTree, path: string, options: ReadOptions): Generator<ReadEntry> {
  const inodes = new Map<string, string>();
  function* visit(at: string, name: string | undefined, known?: Stats): Generator<ReadEntry> {
    const stat = known ?? source.lstat(at);
    if (stat === undefined) return; // removed meanwhile
    if (name !== undefined) {
      const kind = kindOf(stat);
      if (kind === undefined) return;
      const entry: CopyEntry = {
        name,
        kind,
        mode: stat.mode & 0o7777,
        uid: stat.uid,
        gid: stat.gid,
        atime: stat.atime,
        mtime: stat.mtime,
        xattrs: source.xattrs(at),
      };
      if (kind === 'symlink') entry.linkTarget = source.readlink(at);
      if (kind === 'char' || kind === 'block') Object.assign(entry, splitDevice(stat.rdev));
      let linkTo: string | undefined;
      if (kind !== 'directory' && stat.nlink > 1) {
        const key = `${stat.dev}:${stat.ino}`;
        linkTo = inodes.get(key);
        if (linkTo === undefined) inodes.set(key, name);
      }
      yield linkTo === undefined ? { entry, path: at } : { entry, path: at, linkTo };
    }
    if (!stat.isDirectory()) return;
    for (const child of source.readdir(at)) {
      const childPath = cleanPath(`${at}/${child}`);
      if (options.skip?.(childPath) === true) continue;
      yield* visit(childPath, name === undefined ? child : `${name}/${child}`);
    }
  }
  yield* visit(cleanPath(path), options.top);
}

const CHUNK = 1 << 20;

function copyContent(from: number, to: number): void {
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const n = readSync(from, buffer, 0, CHUNK, null);
    if (n === 0) return;
    EntryWriter.write(to, buffer, 0, n);
  }
}

/** Copies path of source (and what it holds) into writer's destination. The writer is closed after. */
export function copyTree(source: RootedTree, path: string, writer: EntryWriter, options: ReadOptions): void {
  for (const { entry, path: at, linkTo } of readTree(source, path, options)) {
    if (linkTo !== undefined) {
      writer.hardlink(entry.name, linkTo);
      continue;
    }
    switch (entry.kind) {
      case 'directory':
        writer.directory(entry);
        break;
      case 'symlink':
        writer.symlink(entry);
        break;
      case 'file': {
        let input: number;
        try {
          input = source.openFile(at);
        } catch (error) {
          const code = errorCode(error);
          if (options.ignoreUnreadable === true && (code === 'EACCES' || code === 'EPERM')) continue;
          throw error;
        }
        try {
          const output = writer.file(entry);
          try {
            copyContent(input, output);
          } catch (error) {
            closeSync(output);
            throw error;
          }
          writer.fileDone(entry, output);
        } finally {
          closeSync(input);
        }
        break;
      }
      default:
        writer.special(entry);
    }
  }
  writer.close();
}
