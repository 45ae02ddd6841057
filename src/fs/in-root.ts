/**
 * Paths inside a directory tree that an image (or a container) controls: a
 * rootfs, a volume. Every lookup resolves as if the tree's root were "/"
 * (openat2 with RESOLVE_IN_ROOT), so a symlink such as `/etc/hosts ->
 * /../../tmp/outside` leads to `<root>/tmp/outside`, never to the host's /tmp.
 *
 * Runs in node (inside the session: root of the user namespace). The trees are
 * not in use by a container while they are prepared; the checks guard against
 * what the image put there, not against a process racing us.
 */
import { closeSync, constants, fstatSync, lstatSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { HutchError, SyscallError } from '../errors.js';
import { native } from '../native.js';

/** open(2)'s O_PATH (node's fs.constants lacks it): an fd that only names a file. */
export const O_PATH = 0o10000000;

/** Symlinks followed in one resolution at most, as the kernel's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/** A path the image's links make impossible to use safely: nothing was created or mounted. */
export class UnsafePathError extends HutchError {
  constructor(message: string) {
    super(message, {
      hint: 'the image (or a volume) has symlinks or files where hutch needs directories; fix the image or choose another destination',
    });
    this.name = 'UnsafePathError';
  }
}

/**
 * `a//b/./c/../d/` → `/a/b/d`: absolute and lexically clean, as runc and
 * podman clean a destination before using it. ".." cannot climb above "/".
 */
export function cleanPath(path: string): string {
  return posix.normalize(`/${path}`).replace(/\/+$/, '') || '/';
}

/** `/a/b` → `['a', 'b']`; `/` → `[]`. */
function components(path: string): string[] {
  return cleanPath(path)
    .split('/')
    .filter((c) => c !== '');
}

function join(...parts: string[]): string {
  return cleanPath(parts.join('/'));
}

/** Whether `path` is `base` or lies below it (both clean). */
export function isWithin(path: string, base: string): boolean {
  return base === '/' || path === base || path.startsWith(`${base}/`);
}

/** base + rel for host paths: `/root` + `/a/b` → `/root/a/b`; `/root` + `/` → `/root`. */
export function hostJoin(base: string, rel: string): string {
  const clean = cleanPath(rel);
  return clean === '/' ? base : `${base === '/' ? '' : base}${clean}`;
}

function codeOf(error: unknown): string | undefined {
  return error instanceof SyscallError ? error.code : (error as NodeJS.ErrnoException).code;
}

/**
 * openInRoot with hutch's errors: ENOSYS (a kernel before 5.6) becomes a
 * HutchError naming what is needed. Returns an fd (close it).
 */
export function openInRoot(root: string, path: string, flags: number, mode = 0): number {
  try {
    return native.openInRoot(root, path, flags, mode);
  } catch (error) {
    if (codeOf(error) === 'ENOSYS') {
      throw new HutchError(
        'openat2(2) is not available: hutch needs Linux 5.6 or later to resolve paths in containers',
        {
          hint: 'upgrade the kernel (hutch needs 5.11 or later for rootless overlayfs anyway)',
          cause: error,
        },
      );
    }
    throw error;
  }
}

/** The host path an fd is open on (readlink of /proc/self/fd/N). */
export function pathOfFd(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

/** A tree's root as the kernel names it (symlinks in the host path resolved), for comparisons. */
export function realRoot(root: string): string {
  return realpathSync(root);
}

/** Where a path of the tree really is. */
export interface Located {
  /** The path inside the tree, every symlink followed: `/tmp/outside` for `/etc/hosts -> /../../tmp/outside`. */
  path: string;
  /** Components at its end that do not exist yet (none of them a symlink: they are not there). */
  missing: string[];
  /** What is at `path` when nothing is missing; undefined otherwise. */
  stat: Stats | undefined;
  /** Whether a symlink was followed on the way. */
  followedLink: boolean;
}

/**
 * Resolves path inside root without creating anything, following symlinks
 * inside the tree: walks the components from the root, lstat-ing each through
 * a directory fd opened with RESOLVE_IN_ROOT. Throws UnsafePathError when a
 * component that has more below it is not a directory, or when links loop.
 */
export function locateInRoot(root: string, path: string): Located {
  let remaining = components(path);
  let current = '/';
  let hops = 0;
  let followedLink = false;
  while (remaining.length > 0) {
    const name = remaining[0] as string;
    const stat = lstatIn(root, current, name);
    if (stat === undefined) return { path: current, missing: remaining, stat: undefined, followedLink };
    if (stat.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) {
        throw new UnsafePathError(`${cleanPath(path)}: too many levels of symbolic links in ${root}`);
      }
      const target = inDir(root, current, name, (p) => readlinkSync(p));
      // current has no symlinks in it, so ".." in the target is its lexical parent.
      remaining = components(join(target.startsWith('/') ? '/' : current, target, ...remaining.slice(1)));
      current = '/';
      followedLink = true;
      continue;
    }
    const next = join(current, name);
    if (remaining.length > 1 && !stat.isDirectory()) {
      throw new UnsafePathError(`${cleanPath(path)}: ${next} is not a directory in ${root}`);
    }
    current = next;
    remaining = remaining.slice(1);
    if (remaining.length === 0) return { path: current, missing: [], stat, followedLink };
  }
  return { path: current, missing: [], stat: lstatSync(root), followedLink };
}

/**
 * Runs fn with the host path of `name` in the tree's directory `dir`, reached
 * through an fd of dir opened in the root: /proc/self/fd/N is followed to the
 * directory, name itself is not followed by lstat or readlink.
 */
function inDir<T>(root: string, dir: string, name: string, fn: (path: string) => T): T {
  const fd = openInRoot(root, dir, constants.O_DIRECTORY | O_PATH);
  try {
    return fn(`/proc/self/fd/${fd}/${name}`);
  } finally {
    closeSync(fd);
  }
}

function lstatIn(root: string, dir: string, name: string): Stats | undefined {
  return inDir(root, dir, name, (path) => lstatSync(path, { throwIfNoEntry: false }));
}

export type EntryKind = 'directory' | 'file';

/** What ensureInRoot made: the real path inside the tree, and what it created (tree paths, parents first). */
export interface Ensured {
  path: string;
  created: string[];
}

/**
 * Makes sure a directory or an empty file exists at path inside root, as the
 * tree's links lead (missing directories are made 0755, a missing file 0644,
 * owned by this process: root of the session). Refuses, with UnsafePathError,
 * a file where a directory is wanted or the other way round, and (with
 * noSymlinks) a path that goes through any symlink.
 */
export function ensureInRoot(
  root: string,
  path: string,
  kind: EntryKind,
  options: { noSymlinks?: boolean; what?: string } = {},
): Ensured {
  const located = locateInRoot(root, path);
  return createLocated(root, path, located, kind, options);
}

/** Creates what locateInRoot found missing, and checks the type of what is there. */
export function createLocated(
  root: string,
  path: string,
  located: Located,
  kind: EntryKind,
  options: { noSymlinks?: boolean; what?: string } = {},
): Ensured {
  const what = options.what ?? cleanPath(path);
  if (options.noSymlinks === true && located.followedLink) {
    const first = firstSymlink(root, path);
    throw new UnsafePathError(
      `${what} must be a ${kind === 'directory' ? 'directory' : 'file'}, but ${first ?? cleanPath(path)} is a symlink in ${root}`,
    );
  }
  const created: string[] = [];
  let current = located.path;
  located.missing.forEach((name, i) => {
    current = join(current, name);
    const last = i === located.missing.length - 1;
    if (!last || kind === 'directory') {
      native.mkdirInRoot(root, current, 0o755);
    } else {
      const fd = openInRoot(
        root,
        current,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      closeSync(fd);
    }
    created.push(current);
  });
  const final = current;
  // Opened once more through the kernel's own in-root resolution: the result must be exactly
  // where the walk said (no symlink appeared meanwhile) and of the right type.
  const fd = openInRoot(root, final, O_PATH | constants.O_NOFOLLOW);
  try {
    const stat = fstatSync(fd);
    const real = pathOfFd(fd);
    const expected = hostJoin(realRoot(root), final);
    if (real !== expected) {
      throw new UnsafePathError(`${what}: ${final} resolved to ${real}, not ${expected}: the tree changed meanwhile`);
    }
    if (kind === 'directory' && !stat.isDirectory()) {
      throw new UnsafePathError(`${what}: ${final} in ${root} is not a directory`);
    }
    if (kind === 'file' && stat.isDirectory()) {
      throw new UnsafePathError(`${what}: ${final} in ${root} is a directory, not a file`);
    }
  } finally {
    closeSync(fd);
  }
  return { path: final, created };
}

/** The first component of path that is a symlink in the tree (for messages). */
function firstSymlink(root: string, path: string): string | undefined {
  let current = '/';
  for (const name of components(path)) {
    const stat = lstatIn(root, current, name);
    if (stat === undefined) return undefined;
    const next = join(current, name);
    if (stat.isSymbolicLink()) return `${next} -> ${inDir(root, current, name, (p) => readlinkSync(p))}`;
    current = next;
  }
  return undefined;
}

/** lstat of a path inside the tree after following its links; undefined when missing. */
export function statInRoot(root: string, path: string): { path: string; stat: Stats } | undefined {
  const located = locateInRoot(root, path);
  if (located.missing.length > 0 || located.stat === undefined) return undefined;
  return { path: located.path, stat: located.stat };
}
