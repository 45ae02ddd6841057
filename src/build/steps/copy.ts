/**
 * COPY and ADD into a mounted step rootfs: what the sources matched, written
 * below the destination with Docker's rules. The destination is resolved
 * inside the rootfs (its symlinks followed there, never on the host, through
 * openat2 RESOLVE_IN_ROOT); missing directories are created 0755. New files
 * and directories belong to root unless --chown, or keep their owners when
 * they come from another stage, an image or an archive (buildah's rule);
 * modes and mtimes come from the source, or --chmod.
 */
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import type { Position } from '../containerfile/ast.js';
import { BuildfileError } from '../containerfile/parser.js';
import type { CopyEntry } from '../context.js';
import { ensureInRoot, hostJoin, locateInRoot, realRoot } from '../../fs/in-root.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** One thing to put under the destination. */
export type CopyItem =
  | {
      kind: 'tree';
      name: string;
      type: CopyEntry['type'];
      entries: CopyEntry[];
      /** Keep the entries' owners (another stage, an image, an archive); else root, as Docker. */
      keepOwners: boolean;
    }
  | { kind: 'content'; name: string; content: string | Buffer; mode: number; mtime: Date };

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  file: string;
  position: Position;
  /** The destination as written (expanded), and the working directory it is relative to. */
  dest: string;
  workdir: string;
  items: CopyItem[];
  /** --chown; undefined: root, or the source's owner for items that keep owners. */
  owner: Owner | undefined;
  /** --chmod bits. */
  mode: number | undefined;
}

/** Writes the items into root (a mounted rootfs). Throws BuildfileError for a destination that cannot take them. */
export function copyIntoRoot(root: string, request: CopyRequest): void {
  const fail = (reason: string): never => {
    throw new BuildfileError(request.file, request.position, `${request.instruction}: ${reason}`);
  };
  const writer = new RootWriter(root, request, fail);
  const destPath = posix.resolve('/', request.workdir || '/', request.dest);
  const trailing = /(^|\/)\.?$/.test(request.dest) || request.dest.endsWith('/');
  let existingDir = false;
  try {
    existingDir = locateInRoot(root, destPath).stat?.isDirectory() === true;
  } catch {
    existingDir = false;
  }
  const intoDir = trailing || existingDir || request.items.length > 1;
  for (const item of request.items) {
    if (item.kind === 'content') {
      const target = intoDir ? posix.join(destPath, item.name) : destPath;
      writer.content(target, item);
      continue;
    }
    if (item.type === 'directory') {
      writer.tree(destPath, item.entries, item.keepOwners);
      continue;
    }
    const target = intoDir ? posix.join(destPath, item.name) : destPath;
    writer.tree(target, item.entries, item.keepOwners);
  }
  writer.finish();
}

class RootWriter {
  private readonly real: string;
  private readonly dirs = new Map<string, string>();
  /** Directories whose mtime to set once everything below them is written (writing changes it). */
  private readonly touch: { host: string; mtime: Date }[] = [];

  constructor(
    private readonly root: string,
    private readonly request: CopyRequest,
    private readonly fail: (reason: string) => never,
  ) {
    this.real = realRoot(root);
  }

  /** The host path of a directory of the rootfs, created (0755, owned by --chown or root) when missing. */
  private dir(treeDir: string): string {
    const known = this.dirs.get(treeDir);
    if (known !== undefined) return known;
    let ensured;
    try {
      ensured = ensureInRoot(this.root, treeDir, 'directory', { what: `destination ${treeDir}` });
    } catch (error) {
      this.fail((error as Error).message);
    }
    const owner = this.request.owner ?? { uid: 0, gid: 0 };
    for (const created of ensured.created) lchownSync(hostJoin(this.real, created), owner.uid, owner.gid);
    const host = hostJoin(this.real, ensured.path);
    this.dirs.set(treeDir, host);
    return host;
  }

  private place(treePath: string): { host: string; existing: ReturnType<typeof lstatSync> | undefined } {
    const parent = this.dir(posix.dirname(treePath));
    const host = join(parent, posix.basename(treePath));
    return { host, existing: lstatSync(host, { throwIfNoEntry: false }) };
  }

  private clear(host: string, existing: ReturnType<typeof lstatSync> | undefined, treePath: string): void {
    if (existing === undefined) return;
    if (existing.isDirectory()) this.fail(`cannot replace directory ${treePath} with a non-directory`);
    unlinkSync(host);
  }

  private ownerOf(entry: { uid: number; gid: number }, keepOwners: boolean): Owner {
    if (this.request.owner !== undefined) return this.request.owner;
    return keepOwners ? { uid: entry.uid, gid: entry.gid } : { uid: 0, gid: 0 };
  }

  tree(target: string, entries: readonly CopyEntry[], keepOwners: boolean): void {
    for (const entry of entries) {
      const treePath = entry.rel === '.' ? target : posix.join(target, entry.rel);
      const owner = this.ownerOf(entry, keepOwners);
      // A directory source's contents go into the destination, which, when it
      // has to be made, is made 0755 as its parents are (buildah; --chmod is
      // for what is copied).
      const top = entry.rel === '.' && entry.type === 'directory';
      const mode = top ? 0o755 : (this.request.mode ?? entry.mode);
      const mtime = new Date(entry.mtimeMs);
      if (entry.type === 'directory') {
        if (treePath === '/') continue;
        const { host, existing } = this.place(treePath);
        if (existing !== undefined && !existing.isDirectory()) unlinkSync(host);
        // An existing directory keeps its owner and mode, as in Docker; a new one takes the source's.
        if (existing === undefined || !existing.isDirectory()) {
          mkdirSync(host);
          lchownSync(host, owner.uid, owner.gid);
          chmodSync(host, mode);
          this.touch.push({ host, mtime });
        }
        this.dirs.set(treePath, host);
        continue;
      }
      const { host, existing } = this.place(treePath);
      this.clear(host, existing, treePath);
      if (entry.type === 'file') {
        copyFileSync(entry.absolute, host);
        lchownSync(host, owner.uid, owner.gid);
        chmodSync(host, mode);
        utimesSync(host, mtime, mtime);
      } else if (entry.type === 'symlink') {
        symlinkSync(entry.linkTarget ?? '', host);
        lchownSync(host, owner.uid, owner.gid);
        lutimesSync(host, mtime, mtime);
      } else {
        this.fail(`cannot copy ${entry.path}: copying a ${entry.type} is not supported`);
      }
    }
  }

  content(treePath: string, item: Extract<CopyItem, { kind: 'content' }>): void {
    const { host, existing } = this.place(treePath);
    this.clear(host, existing, treePath);
    const owner = this.request.owner ?? { uid: 0, gid: 0 };
    writeFileSync(host, item.content);
    lchownSync(host, owner.uid, owner.gid);
    chmodSync(host, this.request.mode ?? item.mode);
    utimesSync(host, item.mtime, item.mtime);
  }

  finish(): void {
    for (const { host, mtime } of this.touch.reverse()) utimesSync(host, mtime, mtime);
  }
}
