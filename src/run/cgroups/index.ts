/**
 * Resource limits for containers: what container start, cleanup, exec and the
 * resource verbs call. Where a cgroup v2 subtree is delegated to the user,
 * every container gets a leaf of it (delegation.ts), its limits written
 * before its first instruction runs; where none is, a container without
 * limits shares hutch's cgroup (the "none" driver) and one with limits is
 * refused with the reason and the fix (none.ts), never accepted and ignored.
 *
 * The order a start keeps (the monitor's clone waits for "go"; the container
 * unshares its cgroup namespace only after it, so the namespace's root is the
 * container's own cgroup):
 *
 *   createContainerCgroup(id, limits)   before the monitor: a refusal stops the start early
 *   startMonitor(…)                     the container is cloned, waits at its first step
 *   addProcess(state, containerPid)     into its cgroup while it waits
 *   sync.go()                           it runs: its children are born in the cgroup
 *   …
 *   releaseContainerCgroup(state)       at cleanup, once it exited: OOMKilled recorded, cgroup removed
 *
 * A build step's short-lived container (no store entry) keeps the same order
 * with removeContainerCgroup(state) once it exited.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { HutchError, SyscallError, withContext } from '../../errors.js';
import { prepareContainersParent, subtreeOf } from './delegation.js';
import {
  checkLimits,
  hasLimits,
  limitWrites,
  mergeLimits,
  neededControllers,
  withDefaultLimits,
  type Controller,
  type Limits,
} from './limits.js';
import { refusal } from './none.js';
import { readCgroupFacts, WANTED_CONTROLLERS, type CgroupFacts } from './probe.js';
import { readCgroupStats, type Stats } from './stats.js';
import {
  hasFile,
  makeCgroup,
  moveProcess,
  parseKeyed,
  readCgroupFile,
  readEvents,
  readWords,
  removeCgroup,
  setFrozen,
  signalCgroup,
  writeCgroupFile,
} from './v2.js';

export {
  DEFAULT_PIDS_LIMIT,
  hasLimits,
  hostConfigResources,
  limitsFromFlags,
  type DeviceRate,
  type LimitFlagValues,
  type Limits,
} from './limits.js';
export type { Stats } from './stats.js';

/** A container's cgroup, as kept in its state.json. */
export interface CgroupState {
  driver: 'v2';
  /** The cgroup's directory, as hutch's mount namespace sees it. */
  path: string;
  /** The limits in force. */
  limits: Limits;
}

/** The hierarchy root's cgroup.controllers (what the kernel offers), when the mount shows the real root. */
function kernelControllers(facts: CgroupFacts): string[] | undefined {
  if (facts.v2Mount === null || hasFile(facts.v2Mount, 'cgroup.type')) return undefined;
  return readWords(facts.v2Mount, 'cgroup.controllers');
}

/** podman's check: a quota above the CPUs there are would promise what cannot be had. */
function checkCpus(limits: Limits): void {
  const cpus = availableParallelism();
  if (limits.cpus !== undefined && limits.cpus > cpus) {
    throw new HutchError(
      `invalid --cpus ${limits.cpus}: the range of CPUs is from 0.01 to ${cpus.toFixed(2)}, as there are only ${cpus} CPUs available`,
    );
  }
}

/** Major and minor of a block device node, for io.max. */
function deviceNumber(path: string): string {
  let rdev: number;
  try {
    const st = statSync(path);
    if (!st.isBlockDevice()) throw new HutchError(`--device-read-bps ${path}: not a block device`);
    rdev = st.rdev;
  } catch (error) {
    if (error instanceof HutchError) throw error;
    throw new HutchError(`--device-read-bps ${path}: ${(error as Error).message}`, { cause: error });
  }
  // glibc's gnu_dev_major/gnu_dev_minor on the 64-bit dev_t.
  const dev = BigInt(rdev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

function hintFor(error: unknown, file: string, dir: string): string | undefined {
  if (!(error instanceof SyscallError)) return undefined;
  if (error.code === 'ENOENT')
    return `the controller of ${file} is not enabled for ${dir} (see its cgroup.controllers)`;
  if (file === 'cpuset.cpus' && error.code === 'EINVAL') {
    const allowed = readCgroupFile(dirname(dir), 'cpuset.cpus.effective')?.trim();
    return `give CPUs among ${allowed === undefined || allowed === '' ? 'those online' : allowed}`;
  }
  if (error.code === 'EINVAL') return 'the kernel refused the value';
  return undefined;
}

/** Writes the limits on the cgroup at `dir`; a refusal names the flag. */
function applyLimits(dir: string, limits: Limits): void {
  const writes = limitWrites(limits, { hasFile: (name) => hasFile(dir, name), deviceNumber });
  for (const write of writes) {
    try {
      writeCgroupFile(dir, write.file, write.value);
    } catch (error) {
      throw new HutchError(`set ${write.flag}: ${(error as Error).message}`, {
        cause: error,
        hint: hintFor(error, write.file, dir),
      });
    }
  }
}

/** The controllers that `needed` names but the cgroup at `dir` lacks. */
function lacking(dir: string, needed: Map<Controller, string[]>): Controller[] {
  const has = readWords(dir, 'cgroup.controllers');
  return [...needed.keys()].filter((c) => !has.includes(c));
}

/**
 * Throws the refusal (a HutchError, exit 125, naming the missing controller
 * and the fix) when `limits` restrict something this host cannot enforce.
 * Reads only: create calls it before the container exists, so a refusal
 * leaves nothing behind.
 */
export function checkEnforceable(limits: Limits): void {
  if (!hasLimits(limits)) return;
  checkLimits(limits);
  checkCpus(limits);
  const facts = readCgroupFacts();
  const refused = refusal(facts, neededControllers(limits), kernelControllers(facts));
  if (refused !== undefined) throw refused;
}

/** Whether containers get a cgroup here that can hold a pids limit (a delegated subtree with the pids controller). */
export function pidsControllerDelegated(facts: CgroupFacts = readCgroupFacts()): boolean {
  return subtreeOf(facts) !== undefined && facts.delegatedControllers.includes('pids');
}

/**
 * A new container's (or a build's) limits with podman's defaults: 2048
 * processes unless --pids-limit says otherwise, where a pids controller is
 * delegated (withDefaultLimits). Decided at create and kept with the container.
 */
export function defaultLimits(limits: Limits): Limits {
  return withDefaultLimits(limits, pidsControllerDelegated());
}

/**
 * The cgroup of a container (or a build step) about to start: a new leaf
 * ROOT/hutch/<id> of the subtree delegated to the user, with the limits
 * written. Where a subtree is delegated every container gets one, limits or
 * not, so that stats, pause and cgroup.kill work for all. Undefined only where
 * none is delegated and `limits` restrict nothing: the container then shares
 * hutch's cgroup. A limit that cannot be enforced is a HutchError (exit 125)
 * naming the missing controller and how to get it; nothing is left behind.
 */
export async function createContainerCgroup(id: string, limits: Limits): Promise<CgroupState | undefined> {
  checkEnforceable(limits);
  const limited = hasLimits(limits);
  const subtree = subtreeOf(readCgroupFacts());
  if (subtree === undefined) {
    if (limited)
      throw new Error('create the container cgroup: the host facts promised a delegated subtree, and there is none');
    return undefined;
  }
  const needed = limited ? neededControllers(limits) : new Map<Controller, string[]>();
  const parent = prepareContainersParent(subtree, [...needed.keys()], WANTED_CONTROLLERS);
  const path = join(parent, id);
  makeCgroup(path);
  try {
    const missing = lacking(path, needed);
    if (missing.length > 0)
      throw new HutchError(`the cgroup ${path} did not get the ${missing.join(', ')} controllers`);
    // "No limit" values (-1, cpus 0) are the kernel's defaults: nothing to write, no controller needed.
    if (limited) applyLimits(path, limits);
  } catch (error) {
    await removeCgroup(path).catch(() => undefined);
    throw error;
  }
  return { driver: 'v2', path, limits };
}

/**
 * Puts a process (the container's, while it waits before its first
 * instruction; or one `hutch exec` starts) into the container's cgroup.
 */
export function addProcess(state: CgroupState, pid: number): void {
  try {
    moveProcess(state.path, pid);
  } catch (error) {
    throw withContext('cgroup', `move process ${pid} into the cgroup ${state.path}`, error);
  }
}

/** Kills what is left, waits until the cgroup is empty and removes it. Idempotent. */
export async function removeContainerCgroup(state: CgroupState): Promise<void> {
  try {
    await removeCgroup(state.path);
  } catch (error) {
    throw withContext('cgroup', `remove the cgroup ${state.path}`, error);
  }
}

/** Pauses (cgroup.freeze) or resumes every process of the container; resolves once cgroup.events agrees. */
export async function freeze(state: CgroupState, frozen: boolean): Promise<void> {
  await setFrozen(state.path, frozen);
}

/** Whether the container is paused. */
export function isFrozen(state: CgroupState): boolean {
  return readEvents(state.path)?.frozen === true;
}

/** Whether a container is paused: running, with its cgroup frozen (podman's "paused" state). */
export function isPaused(state: { status: string; cgroup?: CgroupState | undefined }): boolean {
  return state.status === 'running' && state.cgroup !== undefined && isFrozen(state.cgroup);
}

/** Whether a running container's processes met the OOM killer so far, or its last run's did. */
export function wasOomKilled(state: { oomKilled: boolean; cgroup?: CgroupState | undefined }): boolean {
  return state.oomKilled || (state.cgroup !== undefined && oomKilled(state.cgroup));
}

/** Whether any process still runs in the container's cgroup. */
export function isPopulated(state: CgroupState): boolean {
  return readEvents(state.path)?.populated === true;
}

/** Signals every process of the container; SIGKILL through cgroup.kill where there is one. */
export function killAll(state: CgroupState, signal: number): void {
  signalCgroup(state.path, signal);
}

export function readStats(state: CgroupState): Stats {
  return readCgroupStats(state.path);
}

/** Whether the OOM killer killed a process of the container (memory.events oom_kill). False once the cgroup is gone. */
export function oomKilled(state: CgroupState): boolean {
  return (parseKeyed(readCgroupFile(state.path, 'memory.events')).get('oom_kill') ?? 0) > 0;
}

/**
 * At a container's cleanup (it has exited): records whether the OOM killer
 * struck (memory.events, read before the cgroup goes), removes the cgroup
 * (killing what may be left, such as a daemon the container forked), and
 * forgets it. Idempotent; a state without a cgroup comes back as it is.
 */
export async function releaseContainerCgroup<S extends { cgroup?: CgroupState | undefined; oomKilled: boolean }>(
  state: S,
): Promise<S> {
  if (state.cgroup === undefined) return state;
  const oom = oomKilled(state.cgroup);
  await removeContainerCgroup(state.cgroup);
  return { ...state, oomKilled: state.oomKilled || oom, cgroup: undefined };
}

/**
 * Changes the limits of a running container (`hutch update`): what `limits`
 * names replaces what is in force, the rest stays. Controllers it newly needs
 * are enabled on the way down when the subtree has them. Returns the new state.
 */
export async function updateLimits(state: CgroupState, limits: Limits): Promise<CgroupState> {
  const merged = mergeLimits(state.limits, limits);
  checkLimits(merged);
  checkCpus(merged);
  const needed = neededControllers(limits);
  const missing = lacking(state.path, needed);
  if (missing.length > 0) {
    const parent = dirname(state.path);
    const root = dirname(parent);
    const available = readWords(root, 'cgroup.controllers');
    const unavailable = new Map([...needed].filter(([c]) => missing.includes(c) && !available.includes(c)));
    if (unavailable.size > 0) {
      const facts = readCgroupFacts();
      throw (
        refusal(facts, unavailable, kernelControllers(facts)) ??
        new HutchError(
          `cannot enforce ${[...unavailable.values()].flat().join(', ')}: ${root} is not given ${[...unavailable.keys()].join(', ')}`,
        )
      );
    }
    prepareContainersParent({ root, available }, missing);
  }
  applyLimits(state.path, merged);
  return { ...state, limits: merged };
}
