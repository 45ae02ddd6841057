/**
 * What the host's cgroups offer this process (cgroups(7), cgroup-v2 in the
 * kernel's admin guide): the layout (v2 only, hybrid or v1), this process's
 * own v2 cgroup, whether it is delegated to us, and which controllers it has.
 * Everything is read below `root` so that tests can point it at a fake tree.
 * Reads only: src/run/cgroups/index.ts acts on these facts, so `hutch info`
 * and a run decide alike.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The cgroup under the delegation root that holds one cgroup per container (no processes of its own). */
export const CONTAINERS_CGROUP = 'hutch';

export type CgroupLayout = 'v2' | 'hybrid' | 'v1' | 'none';

export interface CgroupCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** The controllers a container's limits need (--cpus, --memory, --pids-limit, --device-*-bps). */
export const WANTED_CONTROLLERS = ['cpu', 'memory', 'pids', 'io'] as const;

export interface CgroupFacts {
  layout: CgroupLayout;
  /** Controllers bound to v1 hierarchies (named hierarchies such as name=systemd excluded). */
  v1Controllers: string[];
  /** Where the v2 hierarchy is mounted, as this process sees it. */
  v2Mount: string | null;
  /** This process's v2 cgroup, relative to the hierarchy (the `0::` line of /proc/self/cgroup). */
  v2Path: string | null;
  /** This process's v2 cgroup directory, when the mount shows it. */
  v2Dir: string | null;
  /** Owned by us and writable, with its cgroup.procs: what systemd's Delegate=yes does. */
  delegated: boolean;
  /** The owner of v2Dir, as this user namespace sees it. */
  v2DirOwner: number | null;
  /** The nearest ancestor of v2Dir delegated to us, when v2Dir itself is not. */
  delegatedAncestor: string | null;
  /**
   * The topmost delegated cgroup that holds v2Dir (systemd's user@UID.service,
   * or a subtree chowned to us): where container cgroups are made. Null unless
   * v2Dir is delegated.
   */
  delegationRoot: string | null;
  /** cgroup.controllers of v2Dir. */
  controllers: string[];
  /** cgroup.controllers of delegationRoot (what its parent gives it); else those of v2Dir. */
  delegatedControllers: string[];
  /** WANTED_CONTROLLERS that delegatedControllers lacks. */
  missing: string[];
}

export interface CgroupProbeOptions {
  /** The file system root the /proc and /sys paths are read under (default /). */
  root?: string;
  /** Our uid as this user namespace sees it (default: the effective uid). */
  uid?: number;
}

interface MountEntry {
  root: string;
  mountPoint: string;
  fsType: string;
}

/** Mount points escape space, tab, newline and backslash as octal (proc_pid_mountinfo(5)). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The cgroup mounts of /proc/self/mountinfo: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SOURCE SUPEROPTS`. */
export function parseCgroupMounts(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ', 2);
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const fsType = right.split(' ')[0] ?? '';
    if ((fsType !== 'cgroup' && fsType !== 'cgroup2') || fields.length < 5) continue;
    mounts.push({
      root: unescapeMountField(fields[3] as string),
      mountPoint: unescapeMountField(fields[4] as string),
      fsType,
    });
  }
  return mounts;
}

interface CgroupLine {
  hierarchy: string;
  controllers: string[];
  path: string;
}

/** /proc/self/cgroup: `ID:CONTROLLERS:PATH`, where ID 0 with no controllers is the v2 hierarchy. */
export function parseProcCgroup(text: string): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const raw of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(raw.trim());
    if (match === null) continue;
    const controllers = (match[2] as string).split(',').filter((c) => c !== '');
    lines.push({ hierarchy: match[1] as string, controllers, path: match[3] as string });
  }
  return lines;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The v2 mount to use: the unified one at /sys/fs/cgroup first, then /sys/fs/cgroup/unified (systemd's hybrid), then any. */
function pickV2Mount(mounts: MountEntry[]): MountEntry | undefined {
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2');
  return (
    v2.find((m) => m.mountPoint === '/sys/fs/cgroup') ??
    v2.find((m) => m.mountPoint === '/sys/fs/cgroup/unified') ??
    v2[0]
  );
}

/** Where the cgroup at `path` shows under a mount whose root is `mount.root`; undefined when it does not. */
function dirUnder(mount: MountEntry, path: string): string | undefined {
  const mountRoot = mount.root === '/' ? '' : mount.root.replace(/\/+$/, '');
  if (path !== mountRoot && !path.startsWith(`${mountRoot}/`)) return undefined;
  const rest = path.slice(mountRoot.length);
  return rest === '' || rest === '/' ? mount.mountPoint : join(mount.mountPoint, rest);
}

function ownedAndWritable(path: string, uid: number): boolean {
  try {
    const st = statSync(path);
    return st.uid === uid && (st.mode & 0o200) !== 0;
  } catch {
    return false;
  }
}

function accessWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Delegation as systemd does it (Delegate=yes): the directory and its
 * cgroup.procs belong to the user. uid 0 may also write where the kernel lets
 * it (real root anywhere; root of a user namespace only where its ids are mapped).
 */
function isDelegated(dir: string, uid: number): boolean {
  const procs = join(dir, 'cgroup.procs');
  if (ownedAndWritable(dir, uid) && ownedAndWritable(procs, uid)) return true;
  return uid === 0 && accessWritable(dir) && accessWritable(procs);
}

function readControllers(path: string): string[] {
  return (readText(path) ?? '').split(/\s+/).filter((c) => c !== '');
}

function ownerOf(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}

export function readCgroupFacts(options: CgroupProbeOptions = {}): CgroupFacts {
  const root = options.root ?? '/';
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const onHost = (path: string) => join(root, path);

  const lines = parseProcCgroup(readText(onHost('/proc/self/cgroup')) ?? '');
  const mounts = parseCgroupMounts(readText(onHost('/proc/self/mountinfo')) ?? '');
  const v1Controllers = [
    ...new Set(
      lines
        .filter((l) => l.hierarchy !== '0')
        .flatMap((l) => l.controllers)
        .filter((c) => !c.startsWith('name=')),
    ),
  ].sort();
  const v2 = pickV2Mount(mounts);
  const layout: CgroupLayout =
    v1Controllers.length > 0 ? (v2 !== undefined ? 'hybrid' : 'v1') : v2 !== undefined ? 'v2' : 'none';

  const v2Path = lines.find((l) => l.hierarchy === '0' && l.controllers.length === 0)?.path;
  const v2Dir = v2 !== undefined && v2Path !== undefined ? dirUnder(v2, v2Path) : undefined;
  let delegated = false;
  let v2DirOwner: number | undefined;
  let delegatedAncestor: string | undefined;
  let delegationRoot: string | undefined;
  let controllers: string[] = [];
  let delegatedControllers: string[] = [];
  if (v2 !== undefined && v2Dir !== undefined) {
    delegated = isDelegated(onHost(v2Dir), uid);
    v2DirOwner = ownerOf(onHost(v2Dir));
    controllers = readControllers(onHost(join(v2Dir, 'cgroup.controllers')));
    delegatedControllers = controllers;
    if (delegated) {
      delegationRoot = v2Dir;
      // Up while the parent is ours too: the top of the subtree (the mount point of a cgroup namespace at most).
      while (delegationRoot !== v2.mountPoint && isDelegated(onHost(dirname(delegationRoot)), uid)) {
        delegationRoot = dirname(delegationRoot);
      }
      delegatedControllers = readControllers(onHost(join(delegationRoot, 'cgroup.controllers')));
    } else {
      // A systemd user session whose shell runs outside user@UID.service: the subtree exists, we are not in it.
      for (let dir = v2Dir; dir !== v2.mountPoint && dir !== dirname(dir);) {
        dir = dirname(dir);
        if (isDelegated(onHost(dir), uid)) {
          delegatedAncestor = dir;
          break;
        }
      }
    }
  }
  const missing = WANTED_CONTROLLERS.filter((c) => !delegatedControllers.includes(c));
  return {
    layout,
    v1Controllers,
    v2Mount: v2?.mountPoint ?? null,
    v2Path: v2Path ?? null,
    v2Dir: v2Dir ?? null,
    delegated,
    v2DirOwner: v2DirOwner ?? null,
    delegatedAncestor: delegatedAncestor ?? null,
    delegationRoot: delegationRoot ?? null,
    controllers,
    delegatedControllers,
    missing,
  };
}

export const UNIFIED_FIX =
  'boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line to get cgroup v2 controllers';
export const DELEGATE_FIX =
  "systemd: give user@.service Delegate=yes (see systemd.resource-control(5)); without systemd, as root: chown the user's cgroup to the user";

export const SCOPE_FIX = 'start hutch inside your delegated subtree: systemd-run --user --scope hutch …';

export interface CgroupChecks {
  layout: CgroupCheck;
  delegation: CgroupCheck;
  controllers: CgroupCheck;
}

/** The facts as checks, each with the fix when it fails. */
export function checkCgroups(facts: CgroupFacts): CgroupChecks {
  const layout: CgroupCheck =
    facts.layout === 'v2'
      ? { ok: true, detail: `cgroup v2 only (unified hierarchy at ${facts.v2Mount})` }
      : facts.layout === 'hybrid'
        ? {
            ok: false,
            detail: `hybrid: ${facts.v1Controllers.join(' ')} are bound to cgroup v1; the v2 hierarchy at ${facts.v2Mount} has ${facts.controllers.length > 0 ? facts.controllers.join(' ') : 'no controllers'}`,
            fix: UNIFIED_FIX,
          }
        : facts.layout === 'v1'
          ? {
              ok: false,
              detail: `cgroup v1 only (${facts.v1Controllers.join(' ')}); hutch limits resources with cgroup v2`,
              fix: UNIFIED_FIX,
            }
          : {
              ok: false,
              detail: 'no cgroup file system is mounted',
              fix: 'as root: mount -t cgroup2 none /sys/fs/cgroup',
            };

  let delegation: CgroupCheck;
  if (facts.v2Dir === null) {
    delegation = {
      ok: false,
      detail:
        facts.v2Mount === null
          ? 'no cgroup v2 hierarchy'
          : `this process's cgroup ${facts.v2Path ?? '(unknown)'} is not visible under ${facts.v2Mount}`,
      fix: facts.v2Mount === null ? UNIFIED_FIX : DELEGATE_FIX,
    };
  } else if (facts.delegated) {
    const from =
      facts.delegationRoot !== null && facts.delegationRoot !== facts.v2Dir
        ? ` (delegated: the subtree from ${facts.delegationRoot})`
        : ' (delegated)';
    delegation = { ok: true, detail: `${facts.v2Dir} is writable by you${from}` };
  } else if (facts.delegatedAncestor !== null) {
    delegation = {
      ok: false,
      detail: `${facts.v2Dir} is not yours, though ${facts.delegatedAncestor} is delegated to you`,
      fix: SCOPE_FIX,
    };
  } else {
    delegation = {
      ok: false,
      detail: `${facts.v2Dir} is not delegated to you (its owner is uid ${facts.v2DirOwner ?? 'unknown'})`,
      fix: DELEGATE_FIX,
    };
  }

  let controllers: CgroupCheck;
  if (facts.v2Dir === null) {
    controllers = {
      ok: false,
      detail: `no cgroup v2 controllers: missing ${facts.missing.join(' ')}`,
      fix: UNIFIED_FIX,
    };
  } else if (facts.missing.length === 0) {
    controllers = { ok: true, detail: facts.delegatedControllers.join(' ') };
  } else {
    const have = facts.delegatedControllers.length > 0 ? facts.delegatedControllers.join(' ') : 'none';
    controllers = {
      ok: false,
      detail: `available: ${have}; missing: ${facts.missing.join(' ')}`,
      fix: facts.layout === 'v2' ? DELEGATE_FIX : UNIFIED_FIX,
    };
  }
  return { layout, delegation, controllers };
}

export interface CgroupDriver {
  name: 'v2' | 'none';
  probe(facts: CgroupFacts): CgroupCheck;
}

/** In order of preference; the first whose probe is ok is used (src/run/cgroups/index.ts decides the same way). */
export const cgroupDrivers: readonly CgroupDriver[] = [
  {
    name: 'v2',
    probe(facts) {
      if (facts.v2Dir === null) return { ok: false, detail: 'no cgroup v2 hierarchy for this process' };
      if (!facts.delegated || facts.delegationRoot === null)
        return { ok: false, detail: `${facts.v2Dir} is not delegated to you` };
      const have = WANTED_CONTROLLERS.filter((c) => facts.delegatedControllers.includes(c));
      const limits =
        facts.missing.length === 0
          ? 'every limit'
          : `${have.length > 0 ? `${have.join(', ')} limits; ` : ''}no ${facts.missing.join(', ')} limits`;
      return {
        ok: true,
        detail: `every container gets a cgroup of its own under ${join(facts.delegationRoot, CONTAINERS_CGROUP)}: pause, stats, kill of all its processes, ${limits}`,
      };
    },
  },
  {
    name: 'none',
    probe: (facts) => {
      const why = checkCgroups(facts).delegation;
      return {
        ok: true,
        detail: `containers share your cgroup: no resource limits, no pause, no stats${why.ok ? '' : ` (${why.detail})`}`,
      };
    },
  },
];

export interface CgroupsReport extends CgroupFacts {
  checks: CgroupChecks;
  drivers: ({ name: CgroupDriver['name'] } & CgroupCheck)[];
  selected: CgroupDriver['name'];
}

export function probeCgroups(options: CgroupProbeOptions = {}): CgroupsReport {
  const facts = readCgroupFacts(options);
  const drivers = cgroupDrivers.map((d) => ({ name: d.name, ...d.probe(facts) }));
  return { ...facts, checks: checkCgroups(facts), drivers, selected: drivers.find((d) => d.ok)?.name ?? 'none' };
}
