/**
 * The session: one user namespace and one mount namespace per user, held open
 * by a "hutch-session" process (podman's pause process). bin/hutch joins them
 * before node starts (native/launcher.c), so node starts once per command.
 * When there is no session yet, the command that needs one creates it here and
 * execs bin/hutch again: one extra node start, once per boot.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, withContext } from '../errors.js';
import { native } from '../native.js';
import { ensurePrivateDir, resolvePaths } from './dirs.js';
import { PlanChild } from './plan-child.js';
import type { Identity } from './identity.js';
import { planIdMappings, readSubidFiles, requireIdmapHelpers, writeIdMaps } from './idmap.js';
import { Clone, Mount, Plan } from './plan.js';
import { ifExists } from '../fs/missing.js';
import { SESSION_WARNINGS } from './session-warnings.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

export const SESSION_NAME = 'hutch-session';

/** Creates the runtime directory, refusing one that another user could tamper with. */
export function ensureRuntimeDir(dir: string, ownUid: number): string {
  return ensurePrivateDir(dir, {
    ownUid,
    what: 'runtime directory',
    hint: 'remove it, or set XDG_RUNTIME_DIR to a directory that only you own',
  });
}

/** The session holder's pid if the pid file names a live holder of ours. */
export function readSessionPid(runtime: string): number | undefined {
  const text = ifExists(() => readFileSync(join(runtime, 'session.pid'), 'utf8'));
  if (text === undefined) return undefined;
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    // The pid may have been reused since: check that it is our holder.
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === `${SESSION_NAME}\0` ? pid : undefined;
  } catch {
    // ENOENT or ESRCH: the process is gone (or exiting), so it holds no session
    return undefined;
  }
}

/** The session a command started: its holder, and what the user should hear about its id mappings. */
export interface StartedSession {
  pid: number;
  /** Empty when the session was there already: they are said once, when it starts. */
  warnings: string[];
}

/**
 * Starts the holder in a new user and mount namespace, maps the user's ids
 * into it, and records its pid. Serialized by a lock so that two commands
 * started together share one session. Returns the holder's pid, and the
 * warnings of the id mappings when this call started it.
 */
export async function createSession(identity: Identity, env: NodeJS.ProcessEnv): Promise<StartedSession> {
  const paths = resolvePaths(env, identity.uid);
  const runtime = ensureRuntimeDir(paths.session, identity.uid);
  const lock = openSync(join(runtime, 'session.lock'), 'a', 0o600);
  try {
    native.flock(lock, true, true);
    const existing = readSessionPid(runtime);
    if (existing !== undefined) return { pid: existing, warnings: [] };

    const mappings = planIdMappings(identity, readSubidFiles());
    const helpers = requireIdmapHelpers(mappings, env.PATH);

    // Mounts made in the session must not propagate back to the host, while
    // host mounts made later (a USB stick) still show up inside.
    const plan = new Plan()
      .waitParent()
      .setsid()
      .mount(null, '/', null, Mount.REC | Mount.SLAVE)
      .exec(paths.launcher, [SESSION_NAME], []);
    let child: PlanChild;
    try {
      child = PlanChild.start(plan, Clone.NEWUSER | Clone.NEWNS);
    } catch (error) {
      throw withContext('userns', 'create a user namespace', error);
    }
    try {
      await writeIdMaps(child.pid, mappings, helpers);
      child.go();
      await child.done();
    } catch (error) {
      await child.abort();
      throw withContext('session', 'start the hutch session', error);
    }
    const pidFile = join(runtime, 'session.pid');
    writeFileAtomic(pidFile, `${child.pid}\n`, { mode: 0o600 });
    return { pid: child.pid, warnings: mappings.warnings };
  } finally {
    closeSync(lock);
  }
}

/**
 * Makes sure this command runs inside the session: returns when it already
 * does (or runs as real root, which needs none); otherwise creates the session
 * and replaces this process with bin/hutch, which joins it. Never returns then.
 */
export async function enterSession(identity: Identity, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (identity.root || identity.session !== undefined) return;
  if (env.HUTCH_SESSION_REEXEC === '1') {
    throw new HutchError('bin/hutch did not join the session that was just created', {
      hint: 'check that XDG_RUNTIME_DIR is the same for every hutch command, then retry',
    });
  }
  const { warnings } = await createSession(identity, env);
  const paths = resolvePaths(env, identity.uid);
  // This process is replaced: the command that runs in the session says the warnings.
  const handOver = warnings.length === 0 ? {} : { [SESSION_WARNINGS]: JSON.stringify(warnings) };
  const childEnv = Object.entries({ ...env, HUTCH_SESSION_REEXEC: '1', ...handOver }).map(
    ([k, v]) => `${k}=${v ?? ''}`,
  );
  native.execve(paths.launcher, ['hutch', ...process.argv.slice(2)], childEnv);
}
