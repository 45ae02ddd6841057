import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from './package.js';

/**
 * Where hutch keeps things, for the user that runs it (real root included).
 * Inside the session node runs as uid 0 of the user namespace: `hostUid` is
 * the uid it has outside, which names the directories.
 */
export interface Paths {
  /** Images, layers, containers: $XDG_DATA_HOME/hutch, or ~/.local/share/hutch. */
  storage: string;
  /** Pid files, locks, sockets: $XDG_RUNTIME_DIR/hutch, or /tmp/hutch-UID. */
  runtime: string;
  /** The launcher (bin/hutch), which also becomes the session holder. */
  launcher: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv, hostUid: number): Paths {
  const dataHome = isAbsoluteSet(env.XDG_DATA_HOME)
    ? env.XDG_DATA_HOME
    : join(env.HOME ?? homedir(), '.local', 'share');
  return {
    storage: join(dataHome, 'hutch'),
    runtime: runtimeDir(env, hostUid),
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

/** Creates dir (0700) if missing. */
export function ensurePrivateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
