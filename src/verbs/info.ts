/**
 * Everything `hutch info` reports: what this host offers, what hutch will use,
 * and what is missing with the fix for each. The driver parts come from the
 * same probes the run code chooses with, so the report cannot disagree with a run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { arch, cpus, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { HutchError, messageOf, withContext } from '../errors.js';
import { explain } from '../explain.js';
import { diskReserve, type DiskReserve } from '../image/store/reserve.js';
import { native } from '../native.js';
import { version } from '../package.js';
import { resolvePaths } from '../host/dirs.js';
import { DEFAULT_PIDS_LIMIT, pidsControllerDelegated } from '../run/cgroups/index.js';
import { DELEGATE_FIX, probeCgroups, type CgroupsReport } from '../run/cgroups/probe.js';
import { PlanChild } from '../host/plan-child.js';
import { currentIdentity, type Identity } from '../host/identity.js';
import {
  inspectHelper,
  planIdMappings,
  readSubidFiles,
  type IdMapping,
  type MappingPlan,
  type SubidFiles,
} from '../host/idmap.js';
import { probeNetwork, type NetworkReport } from '../run/network/probe.js';
import { Clone, Plan } from '../host/plan.js';
import { probeRootfs, type RootfsReport } from '../run/rootfs/probe.js';
import { deviceAccess } from '../host/tools.js';
import { readSessionPid } from '../host/userns-session.js';
import { parseSubids, rangesFor, type IdRange } from '../host/subid.js';
import { DEFAULT_LOG } from '../run/container/log-config.js';
import { currentLimits, UNLIMITED } from '../run/rlimits.js';
import { readUsernsFacts, type UsernsFacts } from '../host/userns.js';

/** One thing hutch needs: whether it is there, what was found, and how to get it when it is not. */
export interface Check {
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface Problem {
  area: string;
  problem: string;
  fix?: string;
}

export interface HelperCheck extends Check {
  path: string | null;
}

export interface HostInfo {
  host: {
    hutch: string;
    node: string;
    kernel: string;
    distribution: string;
    arch: string;
    cpus: number;
    memoryBytes: number;
  };
  user: {
    uid: number;
    gid: number;
    name: string | null;
    /** false for real root, which needs no user namespace. */
    rootless: boolean;
  };
  userNamespaces: {
    maxUserNamespaces: number | null;
    unprivilegedUsernsClone: number | null;
    apparmorRestrictUnprivilegedUserns: number | null;
    /** A user namespace was created and CAP_SYS_ADMIN used in it. */
    usable: Check;
  };
  session: {
    active: boolean;
    /** The holder's pid (hutch-session). */
    pid: number | null;
    /** This command runs inside the session. */
    inside: boolean;
    /** /proc/self/uid_map and gid_map when inside. */
    uidMap: string | null;
    gidMap: string | null;
  };
  idMappings: {
    /** The mappings the session uses: full (subordinate ranges) or single (our own id only). */
    mappings: Check;
    uid: IdMapping[];
    gid: IdMapping[];
    /** The user's ranges in /etc/subuid and /etc/subgid, in file order. */
    subuid: IdRange[];
    subgid: IdRange[];
    newuidmap: HelperCheck;
    newgidmap: HelperCheck;
  };
  storage: {
    storage: string;
    runtime: string;
    /** The file system the storage directory is (or will be) on. */
    fileSystem: { path: string; type: string; magic: string };
    /** What layer extraction leaves free there (src/image/store/reserve.ts), or why it is unknown. */
    diskReserve: DiskReserve | { error: string };
  };
  rootfs: RootfsReport;
  network: NetworkReport;
  cgroups: CgroupsReport;
  devices: {
    tun: Check;
    fuse: Check;
  };
  /** What bounds a container that exhausts a shared resource. */
  limits: {
    /** A fork bomb: the cgroup's pids.max where a pids controller is delegated, else only RLIMIT_NPROC. */
    processes: Check;
    /** A container's log: rotated at maxSize bytes (0: never, podman's default) unless --log-opt says otherwise. */
    logs: { maxSize: number; maxFiles: number };
  };
  /** Every missing piece, one entry per fix. */
  problems: Problem[];
}

/** statfs(2) f_type values (linux/magic.h) of the file systems storage is likely to sit on. */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlay',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
  0xca451a4e: 'bcachefs',
  0x65735546: 'fuse',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x01021997: '9p',
  0x858458f6: 'ramfs',
  0x73717368: 'squashfs',
  0x52654973: 'reiserfs',
  0x3153464a: 'jfs',
  0xf15f: 'ecryptfs',
  0x5346544e: 'ntfs',
  0x2011bab0: 'exfat',
  0x4d44: 'vfat',
};

export function fileSystemName(magic: number): string {
  return FS_MAGIC[magic >>> 0] ?? `unknown (0x${(magic >>> 0).toString(16)})`;
}

/** PRETTY_NAME of os-release(5), unquoted. */
export function prettyName(osRelease: string): string | undefined {
  for (const line of osRelease.split('\n')) {
    const match = /^PRETTY_NAME=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const value = (match[1] as string).trim();
    const quoted = /^(["'])(.*)\1$/.exec(value);
    return quoted !== null ? (quoted[2] as string).replace(/\\(["'$`\\])/g, '$1') : value;
  }
  return undefined;
}

function readDistribution(): string {
  for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const name = prettyName(readFileSync(file, 'utf8'));
      if (name !== undefined) return name;
    } catch {
      // try the next one
    }
  }
  return 'unknown';
}

const nullable = (n: number | undefined): number | null => (n === undefined ? null : n);

/**
 * Creates a user namespace and uses a capability in it (sethostname in a new
 * UTS namespace): AppArmor's restriction lets the clone succeed and denies that.
 */
async function probeUserns(facts: UsernsFacts): Promise<Check> {
  const plan = new Plan().sethostname('hutch-probe').exit(0);
  try {
    const child = PlanChild.start(plan, Clone.NEWUSER | Clone.NEWUTS);
    try {
      await child.done();
      const status = await child.wait();
      if (status.code !== 0) throw new Error(`the probe ended with status ${status.code ?? `signal ${status.signal}`}`);
    } catch (error) {
      await child.abort();
      throw error;
    }
    return { ok: true, detail: 'created one and used a capability in it' };
  } catch (error) {
    const explained = explain(withContext('userns', 'create a user namespace', error), facts);
    return {
      ok: false,
      detail: explained.line,
      fix:
        explained.hint ??
        'as root: sysctl -w user.max_user_namespaces=28633 (and kernel.unprivileged_userns_clone=1 where it exists)',
    };
  }
}

function readSelfMap(kind: 'uid' | 'gid'): string | null {
  try {
    return readFileSync(`/proc/self/${kind}_map`, 'utf8');
  } catch {
    return null;
  }
}

function checkHelper(name: 'newuidmap' | 'newgidmap', identity: Identity, pathVar: string | undefined): HelperCheck {
  const found = inspectHelper(name, pathVar, identity.session !== undefined);
  const path = found.path ?? null;
  if (identity.root) return { ok: true, path, detail: 'not needed: real root uses the host ids' };
  if (found.usable) return { ok: true, path, detail: `${path} (setuid root or file capabilities)` };
  return { ok: false, path, detail: found.problem ?? `${name} is not usable`, fix: found.fix };
}

const SUBID_FIX = (who: string) =>
  `as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${who} (pick ranges no other user has)`;

function collectIdMappings(identity: Identity, files: SubidFiles, pathVar: string | undefined): HostInfo['idMappings'] {
  const owner = { name: identity.name, uid: identity.uid };
  const ranges = (text: string | null): IdRange[] =>
    rangesFor(parseSubids(text ?? ''), owner).map((r) => ({ start: r.start, count: r.count }));
  const rest = {
    subuid: ranges(files.subuid),
    subgid: ranges(files.subgid),
    newuidmap: checkHelper('newuidmap', identity, pathVar),
    newgidmap: checkHelper('newgidmap', identity, pathVar),
  };
  if (identity.root) {
    const mappings = { ok: true, detail: 'not needed: real root runs containers with the host ids' };
    return { mappings, uid: [], gid: [], ...rest };
  }
  let plan: MappingPlan;
  try {
    plan = planIdMappings(identity, files);
  } catch (error) {
    if (!(error instanceof HutchError)) throw error;
    return { mappings: { ok: false, detail: error.message, fix: error.hint }, uid: [], gid: [], ...rest };
  }
  const count = (m: IdMapping[]) => m.slice(1).reduce((n, r) => n + r.count, 0);
  const who = identity.name ?? String(identity.uid);
  const lacking = [plan.uidMode === 'single' ? 'uids' : '', plan.gidMode === 'single' ? 'gids' : ''].filter(Boolean);
  const mappings: Check =
    lacking.length === 0
      ? {
          ok: true,
          detail: `full: your ids become 0, then ${count(plan.uid)} subordinate uids and ${count(plan.gid)} subordinate gids`,
        }
      : {
          ok: false,
          detail: `single: no subordinate ${lacking.join(' or ')} for ${who}, so containers get the single id 0 and most distribution images fail to unpack`,
          fix: SUBID_FIX(who),
        };
  return { mappings, uid: plan.uid, gid: plan.gid, ...rest };
}

/** The storage directory's file system, or that of its nearest existing parent. */
function storageFileSystem(storage: string): HostInfo['storage']['fileSystem'] {
  let path = storage;
  while (!existsSync(path) && dirname(path) !== path) path = dirname(path);
  try {
    const { type } = native.statfs(path);
    return { path, type: fileSystemName(type), magic: `0x${(type >>> 0).toString(16)}` };
  } catch (error) {
    return { path, type: `unknown (${messageOf(error)})`, magic: '' };
  }
}

function storageReserve(storage: string, env: NodeJS.ProcessEnv): HostInfo['storage']['diskReserve'] {
  try {
    return diskReserve(storage, env);
  } catch (error) {
    return { error: messageOf(error) };
  }
}

function deviceCheck(path: string, udevKernelName: string, module: string): Check {
  const access = deviceAccess(path);
  if (access.ok) return access;
  return {
    ...access,
    fix: access.detail.endsWith('does not exist')
      ? `as root: modprobe ${module}`
      : `as root: chmod 666 ${path} (to keep it: a udev rule KERNEL=="${udevKernelName}", MODE="0666")`,
  };
}

/**
 * What bounds the processes of a container: with a delegated pids controller,
 * its cgroup's pids.max (podman's default of 2048, or --pids-limit); without,
 * nothing but RLIMIT_NPROC, a per-user count (--ulimit nproc). Not a problem
 * of its own in the list: the cgroups controllers check already has the fix.
 */
export function processLimit(cgroups: CgroupsReport): Check {
  if (pidsControllerDelegated(cgroups)) {
    return {
      ok: true,
      detail: `each container's cgroup holds at most ${DEFAULT_PIDS_LIMIT} processes unless --pids-limit says otherwise (-1: none)`,
    };
  }
  const nproc = currentLimits().get('nproc');
  const yours = nproc === undefined || nproc.soft === UNLIMITED ? 'unlimited' : String(nproc.soft);
  return {
    ok: false,
    detail:
      `no pids controller is delegated: nothing bounds a fork bomb in a container but RLIMIT_NPROC, ` +
      `which counts every process of its user, not of one container (yours: ${yours}); ` +
      `--ulimit nproc=N[:M] sets a container's`,
    fix: cgroups.checks.controllers.fix ?? DELEGATE_FIX,
  };
}

/**
 * The problems list: one entry per fix, so the user reads each action once.
 * For drivers, only those ranked above the one selected count as missing.
 */
export function summarizeProblems(info: Omit<HostInfo, 'problems'>): Problem[] {
  const problems: Problem[] = [];
  const add = (area: string, check: Check, label?: string): void => {
    if (check.ok) return;
    const problem = label === undefined ? check.detail : `${label}: ${check.detail}`;
    const same = problems.find((p) => p.fix !== undefined && p.fix === check.fix);
    if (same !== undefined) same.problem += `; ${problem}`;
    else problems.push(check.fix === undefined ? { area, problem } : { area, problem, fix: check.fix });
  };
  const aboveSelected = <D extends Check & { name: string }>(
    area: string,
    report: { drivers: D[]; selected: string },
  ) => {
    for (const driver of report.drivers) {
      if (driver.name === report.selected) break;
      add(area, driver, driver.name);
    }
  };
  add('user namespaces', info.userNamespaces.usable);
  add('id mappings', info.idMappings.mappings);
  add('id mappings', info.idMappings.newuidmap, 'newuidmap');
  add('id mappings', info.idMappings.newgidmap, 'newgidmap');
  aboveSelected('rootfs', info.rootfs);
  aboveSelected('network', info.network);
  add('cgroups', info.cgroups.checks.layout);
  add('cgroups', info.cgroups.checks.delegation);
  add('cgroups', info.cgroups.checks.controllers);
  add('devices', info.devices.tun);
  add('devices', info.devices.fuse);
  return problems;
}

/**
 * Collects the report. Side effects: creates the storage directory (0700) if
 * missing, and a test directory under its tmp/ that is removed again.
 */
export async function collectHostInfo(env: NodeJS.ProcessEnv = process.env): Promise<HostInfo> {
  const identity = currentIdentity(env);
  const paths = resolvePaths(env, identity.uid);
  const facts = readUsernsFacts();
  const holder = identity.session ?? readSessionPid(paths.session);
  const inside = identity.session !== undefined;
  const cgroups = probeCgroups();

  const [usable, rootfs, network] = await Promise.all([
    probeUserns(facts),
    probeRootfs({ identity, storage: paths.storage, pathVar: env.PATH }),
    probeNetwork({ pathVar: env.PATH }),
  ]);

  const info: Omit<HostInfo, 'problems'> = {
    host: {
      hutch: version,
      node: process.version,
      kernel: release(),
      distribution: readDistribution(),
      arch: arch(),
      cpus: cpus().length,
      memoryBytes: totalmem(),
    },
    user: { uid: identity.uid, gid: identity.gid, name: identity.name ?? null, rootless: !identity.root },
    userNamespaces: {
      maxUserNamespaces: nullable(facts.maxUserNamespaces),
      unprivilegedUsernsClone: nullable(facts.unprivilegedUsernsClone),
      apparmorRestrictUnprivilegedUserns: nullable(facts.apparmorRestrict),
      usable,
    },
    session: {
      active: holder !== undefined,
      pid: holder ?? null,
      inside,
      uidMap: inside ? readSelfMap('uid') : null,
      gidMap: inside ? readSelfMap('gid') : null,
    },
    idMappings: collectIdMappings(identity, readSubidFiles(), env.PATH),
    storage: {
      storage: paths.storage,
      runtime: paths.runtime,
      fileSystem: storageFileSystem(paths.storage),
      diskReserve: storageReserve(paths.storage, env),
    },
    rootfs,
    network,
    cgroups,
    devices: {
      tun: deviceCheck('/dev/net/tun', 'tun', 'tun'),
      fuse: deviceCheck('/dev/fuse', 'fuse', 'fuse'),
    },
    limits: {
      processes: processLimit(cgroups),
      logs: { maxSize: DEFAULT_LOG.maxSize, maxFiles: DEFAULT_LOG.maxFile ?? 1 },
    },
  };
  return { ...info, problems: summarizeProblems(info) };
}
