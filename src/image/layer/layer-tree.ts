/**
 * Secure path handling for layer extraction. Every tar entry name passes through
 * cleanEntryName, and every file system call of the extractor goes through a
 * LayerTree, which only ever hands out paths whose parents are real directories
 * inside the layer's root (umoci's secure join and containers/storage's
 * breakout checks, done with lstat and a cache).
 *
 * The root is a directory private to hutch, written by one extractor at a time,
 * so what lstat says stays true until the extractor itself changes it: the cache
 * is invalidated by forget() whenever the extractor removes something.
 */
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { HutchError } from '../../errors.js';

const UNSAFE_HINT =
  'the image is malformed or was made to attack the host; nothing was written outside the layer directory, which is discarded';

/** A layer entry that would reach outside the layer's root, or through a symlink: the whole layer is refused. */
export class UnsafeLayerError extends HutchError {
  readonly entry: string;

  constructor(entry: string, problem: string) {
    super(`layer entry ${JSON.stringify(entry)} ${problem}: the layer is rejected as unsafe`, { hint: UNSAFE_HINT });
    this.name = 'UnsafeLayerError';
    this.entry = entry;
  }
}

/** A layer tar hutch cannot make sense of (a bad header, a file where a directory must be). */
export class MalformedLayerError extends HutchError {
  constructor(message: string) {
    super(message, { hint: 'the layer tar is corrupt or was not made by a container tool; nothing of it is used' });
    this.name = 'MalformedLayerError';
  }
}

/**
 * The entry's path relative to the layer root, cleaned: `./` prefixes and `.`
 * components removed, `//` collapsed, a trailing `/` dropped, `a/../b` folded to
 * `b`. The root itself is `''`. An absolute name, a `..` that climbs above the
 * root, or a NUL byte throws UnsafeLayerError.
 */
export function cleanEntryName(name: string): string {
  return clean(name, name, 'entry');
}

/**
 * The target of a hard link entry, cleaned like an entry name: a hard link names
 * another entry of the layer, so an absolute target or one that climbs above the
 * root is outside the layer.
 */
export function cleanLinkTarget(entry: string, linkname: string): string {
  return clean(linkname, entry, 'link');
}

function clean(name: string, entry: string, kind: 'entry' | 'link'): string {
  const subject = kind === 'entry' ? '' : `is a hard link to ${JSON.stringify(name)}, which `;
  if (name.includes('\0')) throw new UnsafeLayerError(entry, `${subject}contains a NUL byte`);
  if (name.startsWith('/')) {
    throw new UnsafeLayerError(
      entry,
      kind === 'entry' ? 'has an absolute path' : `${subject}is an absolute path outside the layer`,
    );
  }
  if (name === '') {
    throw new MalformedLayerError(
      kind === 'entry'
        ? 'a layer entry has an empty name'
        : `layer entry ${JSON.stringify(entry)} is a hard link to an empty name`,
    );
  }
  // Most names are clean already: no `.` or `..` component, no empty one.
  if (!/(^|\/)\.{1,2}(\/|$)|\/\/|\/$/.test(name)) return name;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) {
        throw new UnsafeLayerError(
          entry,
          kind === 'entry'
            ? 'climbs out of the layer root through ".."'
            : `${subject}climbs out of the layer through ".."`,
        );
      }
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** `a/b/c` → `a/b`; `c` → `''` (the root). */
export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/** `a/b/c` → `c`. */
export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/**
 * The layer's root directory and what is known about it. Paths handed out by
 * path() are safe to pass to calls that do not follow a symlink in their last
 * component (lstat, lchown, lutimes, lsetxattr, unlink, open with O_NOFOLLOW,
 * mkdir, mknod, symlink, link) once ensureParent() or checkLinkTarget() accepted
 * them.
 */
export class LayerTree {
  readonly root: string;
  /** Paths (relative to root) known to be real directories, not symlinks. */
  private readonly dirs = new Set<string>(['']);

  constructor(root: string) {
    this.root = root.endsWith('/') && root.length > 1 ? root.slice(0, -1) : root;
    const stat = lstatSync(this.root, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isDirectory()) {
      throw new HutchError(`cannot unpack a layer into ${this.root}: not a directory`);
    }
  }

  path(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  isKnownDir(rel: string): boolean {
    return this.dirs.has(rel);
  }

  /** Records that rel is now a real directory (the extractor made it one). */
  addDir(rel: string): void {
    this.dirs.add(rel);
  }

  /**
   * Makes every ancestor of rel a real directory inside the root: missing ones
   * are created (mode 0755, as Docker and containers/storage do for parents a
   * layer leaves out). Throws UnsafeLayerError when one is a symlink, which
   * would let the entry be written somewhere else (`a -> /etc`, then `a/passwd`).
   */
  ensureParent(entry: string, rel: string): void {
    const parent = parentOf(rel);
    if (this.dirs.has(parent)) return;
    this.walk(entry, parent, (prefix) => {
      mkdirSync(this.path(prefix), 0o755);
      // mkdir(2) applies the umask; the layer's parents must be traversable by everyone.
      chmodSync(this.path(prefix), 0o755);
    });
  }

  /**
   * Checks a hard link's target (already cleaned): every ancestor a real
   * directory, no symlink on the way, and the target itself present. Returns
   * the target's lstat. The target may itself be a symlink: link(2) links the
   * symlink, it does not follow it.
   */
  checkLinkTarget(entry: string, target: string): Stats {
    const quoted = JSON.stringify(target);
    this.walk(
      entry,
      parentOf(target),
      () => {
        throw new UnsafeLayerError(entry, `is a hard link to ${quoted}, which does not exist in the layer`);
      },
      quoted,
    );
    const stat = lstatSync(this.path(target), { throwIfNoEntry: false });
    if (stat === undefined) {
      throw new UnsafeLayerError(entry, `is a hard link to ${quoted}, which does not exist in the layer`);
    }
    return stat;
  }

  /** rel was removed or replaced: it and everything below it are no longer known directories. */
  forget(rel: string): void {
    if (rel === '') {
      this.dirs.clear();
      this.dirs.add('');
      return;
    }
    if (!this.dirs.delete(rel)) return;
    const prefix = `${rel}/`;
    for (const dir of this.dirs) if (dir.startsWith(prefix)) this.dirs.delete(dir);
  }

  /**
   * Walks dir's components from the root, lstat-ing the ones not yet known, and
   * calls missing() for one that does not exist (which creates it or throws).
   */
  private walk(entry: string, dir: string, missing: (prefix: string) => void, linkTarget?: string): void {
    if (this.dirs.has(dir)) return;
    let end = -1;
    do {
      end = dir.indexOf('/', end + 1);
      const prefix = end < 0 ? dir : dir.slice(0, end);
      if (this.dirs.has(prefix)) continue;
      const stat = lstatSync(this.path(prefix), { throwIfNoEntry: false });
      if (stat === undefined) {
        missing(prefix);
      } else if (stat.isSymbolicLink()) {
        const via = `the symlink ${JSON.stringify(prefix)}`;
        throw new UnsafeLayerError(
          entry,
          linkTarget === undefined
            ? `would be written through ${via}`
            : `is a hard link to ${linkTarget}, which is reached through ${via}`,
        );
      } else if (!stat.isDirectory()) {
        throw new MalformedLayerError(
          `layer entry ${JSON.stringify(entry)}: its parent ${JSON.stringify(prefix)} is not a directory`,
        );
      }
      this.dirs.add(prefix);
    } while (end >= 0);
  }
}
