import { lstatSync, mkdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { passwdName } from './accounts.js';
import { HutchError } from '../errors.js';
import { packageRoot } from '../package.js';

/**
 * Where hutch keeps things, for the user that runs it (real root included).
 * Inside the session node runs as uid 0 of the user namespace: `hostUid` is
 * the uid it has outside, which names the directories.
 */
export interface Paths {
  /** Images, layers, containers: $HUTCH_STORAGE (`--root`), else $XDG_DATA_HOME/hutch, or ~/.local/share/hutch. */
  storage: string;
  /** Containers' pid files, locks, sockets: $HUTCH_RUNTIME (`--runroot`), else the session directory. */
  runtime: string;
  /**
   * The session's pid file and lock: $XDG_RUNTIME_DIR/hutch, or /tmp/hutch-UID.
   * One per user whatever --runroot says: native/launcher.c finds the session
   * there before node starts, with no flags parsed.
   */
  session: string;
  /** The launcher (bin/hutch), which also becomes the session holder. */
  launcher: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv, hostUid: number): Paths {
  const dataHome = isAbsoluteSet(env.XDG_DATA_HOME)
    ? env.XDG_DATA_HOME
    : join(env.HOME ?? homedir(), '.local', 'share');
  const session = runtimeDir(env, hostUid);
  return {
    storage: isAbsoluteSet(env.HUTCH_STORAGE) ? env.HUTCH_STORAGE : join(dataHome, 'hutch'),
    runtime: isAbsoluteSet(env.HUTCH_RUNTIME) ? env.HUTCH_RUNTIME : session,
    session,
    launcher: join(packageRoot, 'bin', 'hutch'),
  };
}

/**
 * $XDG_RUNTIME_DIR/hutch when XDG_RUNTIME_DIR is an absolute path to a
 * directory this user owns (after `su`, it often names another user's), else
 * /tmp/hutch-UID. native/launcher.c applies the same rule to find the session.
 * Ownership is compared with our uid as this namespace sees it: inside the
 * session our own files read as owned by 0, and so do we.
 */
export function runtimeDir(env: NodeJS.ProcessEnv, hostUid: number): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (isAbsoluteSet(xdg)) {
    try {
      const st = statSync(xdg);
      if (st.isDirectory() && st.uid === process.getuid?.()) return join(xdg, 'hutch');
    } catch {
      // fall through to /tmp
    }
  }
  return `/tmp/hutch-${hostUid}`;
}

function isAbsoluteSet(value: string | undefined): value is string {
  return value !== undefined && value.startsWith('/');
}

/** Why a directory is not private to us: what another user could do with it. */
export interface NotPrivate {
  path: string;
  /** Its owner, as this user namespace sees it. */
  uid: number;
  /** Permission bits (0o7777). */
  mode: number;
  problem: 'not a directory' | 'owner' | 'writable';
}

/**
 * The first directory from `base` down to `dir` (both included) that another
 * user could tamper with, or undefined when every one that exists is private:
 * a real directory (lstat: a symlink is refused, it could lead anywhere),
 * owned by `ownUid`, not writable by group or others. A missing one is fine:
 * it would be created 0700. Ownership is compared as this namespace sees it:
 * inside the session our files read as owned by 0, and so do we.
 */
export function notPrivate(base: string, dir: string, ownUid = process.getuid?.() ?? 0): NotPrivate | undefined {
  const below = relative(base, dir);
  if (below.startsWith('..')) throw new Error(`check that ${dir} is private: it is not below ${base}`);
  let path = base;
  for (const part of ['', ...(below === '' ? [] : below.split(sep))]) {
    path = join(path, part);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const mode = st.mode & 0o7777;
    if (!st.isDirectory()) return { path, uid: st.uid, mode, problem: 'not a directory' };
    if (st.uid !== ownUid) return { path, uid: st.uid, mode, problem: 'owner' };
    if ((mode & 0o022) !== 0) return { path, uid: st.uid, mode, problem: 'writable' };
  }
  return undefined;
}

/** The kernel's overflow uid: what a user namespace shows for ids it does not map. */
function overflowUid(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim());
  } catch {
    return 65534;
  }
}

/** The initial user namespace maps 0 to 0 over the whole range (user_namespaces(7)). */
function inInitialUserNamespace(): boolean {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/m.test(readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return true;
  }
}

/** "uid 1002 (alice)"; for an id this user namespace does not map, says so rather than naming "nobody". */
export function ownerText(uid: number): string {
  if (uid === overflowUid() && !inInitialUserNamespace()) {
    return `another user (uid ${uid} here: an id this user namespace does not map)`;
  }
  const name = passwdName(uid);
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

/** One line: `/tmp/x is not private to you: it belongs to uid 1002 (mallory)`. */
export function notPrivateText(found: NotPrivate): string {
  const why =
    found.problem === 'not a directory'
      ? `it is not a directory (${ownerText(found.uid)} made it)`
      : found.problem === 'owner'
        ? `it belongs to ${ownerText(found.uid)}`
        : `group or others may write to it (mode ${found.mode.toString(8).padStart(4, '0')})`;
  return `${found.path} is not private to you: ${why}`;
}

/**
 * Creates `dir` and the directories from `base` down to it (0700) where
 * missing, then checks every one of them with notPrivate: a HutchError (exit
 * 125) naming the first that another user could tamper with: `WHAT DIR is
 * not private to you: …`, where `what` says what the directory is for
 * (`runtime directory`); the hint says what to do instead.
 */
export function ensurePrivateDir(
  dir: string,
  options: { base?: string; ownUid?: number; what: string; hint: string },
): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const found = notPrivate(options.base ?? dir, dir, options.ownUid);
  if (found !== undefined) throw new HutchError(`${options.what} ${notPrivateText(found)}`, { hint: options.hint });
  return dir;
}
