import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HutchError } from '../errors.js';
import { native } from '../native.js';
import type { Identity } from './identity.js';
import { findOverlaps, formatRange, parseSubids, rangesFor, type SubidEntry } from './subid.js';

/** One line of /proc/PID/uid_map (user_namespaces(7)). */
export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}

export type MappingMode = 'full' | 'single';

/**
 * The user's own id becomes 0, every subordinate range follows from 1 in file
 * order (podman's layout): `0 1001 1`, `1 100000 65536`.
 */
export interface MappingPlan {
  uid: IdMapping[];
  gid: IdMapping[];
  uidMode: MappingMode;
  gidMode: MappingMode;
  warnings: string[];
}

export interface SubidFiles {
  /** Contents of /etc/subuid, or null when the file does not exist. */
  subuid: string | null;
  subgid: string | null;
}

export function readSubidFiles(): SubidFiles {
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  };
  return { subuid: read('/etc/subuid'), subgid: read('/etc/subgid') };
}

/** Just our own ids, mapped to 0: needs no helper (user_namespaces(7)). */
export function singleIdMapping(identity: Identity): MappingPlan {
  return {
    uid: [{ inside: 0, outside: identity.uid, count: 1 }],
    gid: [{ inside: 0, outside: identity.gid, count: 1 }],
    uidMode: 'single',
    gidMode: 'single',
    warnings: [],
  };
}

function mappingsFrom(ownId: number, ranges: SubidEntry[]): IdMapping[] {
  const mappings: IdMapping[] = [{ inside: 0, outside: ownId, count: 1 }];
  let next = 1;
  for (const range of ranges) {
    mappings.push({ inside: next, outside: range.start, count: range.count });
    next += range.count;
  }
  return mappings;
}

export function planIdMappings(identity: Identity, files: SubidFiles): MappingPlan {
  const owner = { name: identity.name, uid: identity.uid };
  const plan: MappingPlan = { uid: [], gid: [], uidMode: 'single', gidMode: 'single', warnings: [] };
  for (const kind of ['uid', 'gid'] as const) {
    const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
    const entries = parseSubids((kind === 'uid' ? files.subuid : files.subgid) ?? '');
    const overlap = findOverlaps(entries, owner)[0];
    if (overlap !== undefined) {
      throw new HutchError(
        `subordinate ${kind} range ${formatRange(overlap.ours)} of ${identity.name ?? identity.uid} (${file} line ${overlap.ours.line}) ` +
          `overlaps ${overlap.theirs.owner}'s range ${formatRange(overlap.theirs)} (line ${overlap.theirs.line})`,
        {
          hint: `give each user ids of its own: edit ${file} as root (usermod --del-sub${kind}s ${formatRange(overlap.ours)} --add-sub${kind}s FREE-RANGE ${identity.name ?? identity.uid})`,
        },
      );
    }
    const ranges = rangesFor(entries, owner);
    const ownId = kind === 'uid' ? identity.uid : identity.gid;
    plan[kind] = mappingsFrom(ownId, ranges);
    plan[`${kind}Mode`] = ranges.length > 0 ? 'full' : 'single';
  }
  const who = identity.name ?? String(identity.uid);
  const missing = [plan.uidMode === 'single' ? 'uids' : '', plan.gidMode === 'single' ? 'gids' : ''].filter(Boolean);
  if (missing.length > 0) {
    const files = missing.map((m) => `/etc/sub${m.slice(0, 3)}`).join(' and ');
    plan.warnings.push(
      `no subordinate ${missing.join(' or ')} for ${who} in ${files}: containers get the single id 0, and images ` +
        `with files owned by other users or groups (most distribution images) will fail to unpack. ` +
        `Fix: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${who}`,
    );
  }
  return plan;
}

/** newuidmap's arguments after the pid: inside outside count, repeated. */
export function helperArgs(mappings: IdMapping[]): string[] {
  return mappings.flatMap((m) => [String(m.inside), String(m.outside), String(m.count)]);
}

export function formatIdMap(mappings: IdMapping[]): string {
  return mappings.map((m) => `${m.inside} ${m.outside} ${m.count}\n`).join('');
}

/** A setuid helper (newuidmap, newgidmap) as found on PATH. */
export interface IdmapHelper {
  name: string;
  path: string | undefined;
  usable: boolean;
  /** Why it cannot be used, and the fix, when !usable. */
  problem?: string;
  fix?: string;
}

export function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Inside the session host root is not mapped, and stat(2) shows an unmapped
 * owner as the overflow uid (user_namespaces(7)): there a setuid helper owned
 * by the overflow uid is taken for the setuid-root program it is on the host.
 */
function ownedByRoot(uid: number, insideSession: boolean): boolean {
  if (uid === 0) return true;
  if (!insideSession) return false;
  try {
    return uid === Number(readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim());
  } catch {
    return false;
  }
}

export function inspectHelper(
  name: 'newuidmap' | 'newgidmap',
  pathVar: string | undefined,
  insideSession = false,
): IdmapHelper {
  const path = findOnPath(name, pathVar);
  if (path === undefined) {
    return {
      name,
      path,
      usable: false,
      problem: `${name} not found on PATH: it writes the subordinate ids of /etc/sub${name.slice(3, 6)} into the user namespace`,
      fix: 'install the uidmap package (Debian/Ubuntu: sudo apt-get install uidmap; Fedora: sudo dnf install shadow-utils)',
    };
  }
  const st = statSync(path);
  const setuidRoot = (st.mode & 0o4000) !== 0 && ownedByRoot(st.uid, insideSession);
  // Some distributions ship it with file capabilities instead of setuid.
  const hasCaps = !setuidRoot && native.getxattr(path, 'security.capability') !== null;
  if (!setuidRoot && !hasCaps) {
    return {
      name,
      path,
      usable: false,
      problem: `${path} is neither setuid root nor has file capabilities, so it cannot write the id map`,
      fix: `sudo chmod u+s ${path} (or reinstall the uidmap package)`,
    };
  }
  return { name, path, usable: true };
}

function runHelper(path: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const line = stderr.trim().split('\n')[0] ?? '';
      reject(
        new HutchError(`${path} failed (exit ${code}): ${line}`, {
          hint: 'check that your ranges in /etc/subuid and /etc/subgid are right and that the helper is setuid root',
        }),
      );
    });
  });
}

export interface HelperPaths {
  newuidmap?: string;
  newgidmap?: string;
}

/** The helpers a plan needs, checked before any child exists; throws what is missing. */
export function requireIdmapHelpers(plan: MappingPlan, pathVar: string | undefined): HelperPaths {
  const paths: HelperPaths = {};
  for (const [mode, name] of [
    [plan.uidMode, 'newuidmap'],
    [plan.gidMode, 'newgidmap'],
  ] as const) {
    if (mode !== 'full') continue;
    const helper = inspectHelper(name, pathVar);
    if (!helper.usable || helper.path === undefined) {
      throw new HutchError(helper.problem ?? `${name} is not usable`, { hint: helper.fix });
    }
    paths[name] = helper.path;
  }
  return paths;
}

/**
 * Writes the uid and gid maps of process pid (a child blocked before it needs
 * them). Full mappings go through newuidmap/newgidmap; a single-id mapping is
 * written directly, which user_namespaces(7) allows for one's own id only
 * after setgroups is denied.
 */
export async function writeIdMaps(pid: number, plan: MappingPlan, helpers: HelperPaths): Promise<void> {
  for (const kind of ['uid', 'gid'] as const) {
    const mode = kind === 'uid' ? plan.uidMode : plan.gidMode;
    const helper = kind === 'uid' ? helpers.newuidmap : helpers.newgidmap;
    if (mode === 'full') {
      if (helper === undefined) throw new Error(`writeIdMaps: no helper for the ${kind} map`);
      await runHelper(helper, [String(pid), ...helperArgs(plan[kind])]);
    } else {
      if (kind === 'gid') writeFileSync(`/proc/${pid}/setgroups`, 'deny');
      writeFileSync(`/proc/${pid}/${kind}_map`, formatIdMap(plan[kind]));
    }
  }
}
