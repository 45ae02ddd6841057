/**
 * The writing half of `hutch cp`: entries (from a tree walk, or a tar read
 * from stdin) placed under a destination directory of a tree, with podman's
 * rules (buildah's copier Put): a directory merges into a directory; a file,
 * symlink or device replaces a non-directory; a directory and a
 * non-directory never replace each other unless overwrite is set (podman cp
 * --overwrite), and then what was there is removed first. Directory modes
 * and times are set once everything inside was written.
 *
 * Every path is resolved inside the tree (tree.ts), and every directory an
 * entry is written into is checked to be a directory, not a symlink: an
 * entry cannot leave the destination through a link an earlier entry made.
 */
import { closeSync, writeSync } from 'node:fs';
import { HutchError } from '../../errors.js';
import { cleanPath } from '../../fs/in-root.js';
import { errorCode, type NodeMetadata, type RootedTree } from './tree.js';

export type EntryKind = 'directory' | 'file' | 'symlink' | 'fifo' | 'char' | 'block';

/** One node to copy, named relative to the destination directory. */
export interface CopyEntry {
  /** "name" or "dir/name": clean, relative, never empty. */
  name: string;
  kind: EntryKind;
  /** Permission bits with setuid, setgid and sticky. */
  mode: number;
  /** The ids the source gives it (the writer's owner policy decides what is written). */
  uid: number;
  gid: number;
  atime: Date;
  mtime: Date;
  /** A symlink's target. */
  linkTarget?: string;
  major?: number;
  minor?: number;
  xattrs: Map<string, Buffer>;
}

export interface WriterOptions {
  /** The owner a written node gets, from its entry's ids; undefined: left as created (the user). */
  owner: (ids: { uid: number; gid: number }) => { uid: number; gid: number } | undefined;
  /** podman cp --overwrite: a directory may replace a non-directory, and the other way round. */
  overwrite: boolean;
  /** How errors name a path of the tree (the container's path, when the tree is a volume). */
  shown?: (treePath: string) => string;
}

const SYSCALL: Record<EntryKind, string> = {
  directory: 'mkdir',
  file: 'open',
  symlink: 'symlink',
  fifo: 'mknod',
  char: 'mknod',
  block: 'mknod',
};

export class EntryWriter {
  /** Directories written or merged, with what they get at the end. */
  private readonly directories: { path: string; meta: NodeMetadata }[] = [];
  /** Directories below dir known to be real directories (made or checked here). */
  private readonly checked = new Set<string>();

  /** dir: a directory of the tree, every link in its path already resolved. */
  constructor(
    private readonly tree: RootedTree,
    private readonly dir: string,
    private readonly options: WriterOptions,
  ) {
    this.checked.add(cleanPath(dir));
  }

  private pathOf(name: string): string {
    return cleanPath(`${this.dir}/${name}`);
  }

  private shown(path: string): string {
    return this.options.shown?.(path) ?? path;
  }

  private meta(entry: Pick<CopyEntry, 'mode' | 'uid' | 'gid' | 'xattrs' | 'atime' | 'mtime'>): NodeMetadata {
    return {
      mode: entry.mode,
      owner: this.options.owner({ uid: entry.uid, gid: entry.gid }),
      xattrs: entry.xattrs,
      atime: entry.atime,
      mtime: entry.mtime,
    };
  }

  /**
   * The directory path's entries go into: each component below dir must be
   * a directory (made 0755 when missing, as tar does for a member whose
   * parent the archive lacks).
   */
  private ensureDirectory(path: string): void {
    if (this.checked.has(path) || path === '/') return;
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    this.ensureDirectory(parent);
    const stat = this.tree.lstat(path);
    if (stat === undefined) {
      this.tree.mkdir(path, 0o700);
      const now = new Date();
      this.directories.push({
        path,
        meta: this.meta({ mode: 0o755, uid: 0, gid: 0, xattrs: new Map(), atime: now, mtime: now }),
      });
    } else if (!stat.isDirectory()) {
      throw new HutchError(`error creating "${this.shown(path)}": ${this.shown(path)}: not a directory`);
    }
    this.checked.add(path);
  }

  /** Clears the way for a node of the entry's kind at path; true when a directory is already there (kept). */
  private clear(path: string, kind: EntryKind): boolean {
    const existing = this.tree.lstat(path);
    if (existing === undefined) return false;
    if (existing.isDirectory() && kind === 'directory') return true;
    if (existing.isDirectory() !== (kind === 'directory') && !this.options.overwrite) {
      const shown = this.shown(path);
      throw new HutchError(`error creating "${shown}": ${SYSCALL[kind]} ${shown}: file exists`, {
        hint: '--overwrite replaces a directory with a non-directory and the other way round',
      });
    }
    this.tree.remove(path);
    this.checked.delete(path);
    return false;
  }

  /** The tree path for an entry name, its parent directories made or checked. */
  private prepare(name: string): string {
    const path = this.pathOf(name);
    if (path === cleanPath(this.dir)) {
      throw new HutchError(`cannot copy ${JSON.stringify(name)}: it names the destination itself`);
    }
    this.ensureDirectory(path.slice(0, path.lastIndexOf('/')) || '/');
    return path;
  }

  directory(entry: CopyEntry): void {
    const path = this.prepare(entry.name);
    if (!this.clear(path, 'directory')) this.tree.mkdir(path, 0o700);
    this.checked.add(path);
    this.directories.push({ path, meta: this.meta(entry) });
  }

  /** A new regular file for the entry, open for writing: fill it, then fileDone(). */
  file(entry: CopyEntry): number {
    const path = this.prepare(entry.name);
    this.clear(path, 'file');
    return this.tree.create(path, entry.mode);
  }

  /** Sets the file's owner, mode, xattrs and times, and closes it. */
  fileDone(entry: CopyEntry, fd: number): void {
    try {
      this.tree.finish(this.pathOf(entry.name), this.meta(entry), fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes length bytes of chunk from at to a file file() opened. */
  static write(fd: number, chunk: Buffer, at = 0, length = chunk.length - at): void {
    let written = 0;
    while (written < length) written += writeSync(fd, chunk, at + written, length - written);
  }

  symlink(entry: CopyEntry): void {
    const path = this.prepare(entry.name);
    this.clear(path, 'symlink');
    this.tree.symlink(entry.linkTarget ?? '', path);
    this.tree.finish(path, this.meta(entry));
  }

  /**
   * A fifo or a device node. A user namespace may not make devices: they are
   * skipped, as podman skips them when rootless.
   */
  special(entry: CopyEntry): void {
    const path = this.prepare(entry.name);
    this.clear(path, entry.kind);
    const type = entry.kind === 'fifo' ? 0o010000 : entry.kind === 'char' ? 0o020000 : 0o060000;
    try {
      this.tree.mknod(path, type | (entry.mode & 0o7777), entry.major ?? 0, entry.minor ?? 0);
    } catch (error) {
      if (entry.kind !== 'fifo' && errorCode(error) === 'EPERM') return;
      throw error;
    }
    this.tree.finish(path, this.meta(entry));
  }

  /** A hard link at name to target, an entry written before (both relative to the destination). */
  hardlink(name: string, target: string): void {
    const path = this.prepare(name);
    // The target is reached through directories, never through a link an earlier entry made.
    const existing = this.prepare(target);
    this.clear(path, 'file');
    this.tree.link(existing, path);
  }

  /** Modes, owners and times of the directories, deepest first (writing inside one changes its mtime). */
  close(): void {
    for (const { path, meta } of this.directories.reverse()) this.tree.finish(path, meta);
    this.directories.length = 0;
  }
}
