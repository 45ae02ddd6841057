/**
 * The subtree delegated to the user, made ready for container cgroups:
 *
 *   ROOT/                 the topmost delegated cgroup that holds hutch (systemd's
 *   │                     user@UID.service, or a subtree chowned to the user)
 *   ├── init/             where processes found in ROOT itself are moved
 *   └── hutch/            no processes; the controllers containers need
 *       └── <id>/         one leaf per container, its limits written
 *
 * cgroup v2 lets a cgroup hand controllers to its children only while it holds
 * no processes itself (the "no internal processes" rule, cgroup-v2.rst), and
 * lets an unprivileged writer move a process only between cgroups whose common
 * ancestor's cgroup.procs it may write. So hutch first moves whatever runs in
 * ROOT (itself, the user's shell) into the leaf ROOT/init, as podman and
 * docker-in-docker do, then enables the controllers on ROOT and ROOT/hutch.
 * Each step is idempotent, so concurrent hutch processes may race through it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, SyscallError } from '../../errors.js';
import { CONTAINERS_CGROUP, type CgroupFacts } from './probe.js';
import { enableControllers, hasFile, moveProcess, processesOf, syscallError } from './v2.js';

/** The leaf that takes the processes found in the delegation root. */
export const DISPLACED_CGROUP = 'init';

export interface Subtree {
  /** The delegation root (CgroupFacts.delegationRoot). */
  root: string;
  /** Controllers the root's parent gives it. */
  available: string[];
}

/** The delegated subtree of these facts; undefined when there is none. */
export function subtreeOf(facts: CgroupFacts): Subtree | undefined {
  if (!facts.delegated || facts.delegationRoot === null) return undefined;
  return { root: facts.delegationRoot, available: facts.delegatedControllers };
}

/** The hierarchy's real root has no cgroup.type (and may hold processes next to enabled controllers). */
function isHierarchyRoot(dir: string): boolean {
  return !hasFile(dir, 'cgroup.type');
}

function mkdirIfMissing(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw syscallError(error, 'mkdir', dir);
  }
}

/**
 * Moves every process of `root` into root/init (processes that exit meanwhile
 * are fine). Repeats while new ones appear (a process forking while we move).
 */
export function leaveRoot(root: string): void {
  if (isHierarchyRoot(root) || processesOf(root).length === 0) return;
  const leaf = join(root, DISPLACED_CGROUP);
  mkdirIfMissing(leaf);
  let failure: unknown;
  for (let round = 0; round < 10; round++) {
    const pids = processesOf(root);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        moveProcess(leaf, pid);
      } catch (error) {
        if (!(error instanceof SyscallError && error.code === 'ESRCH')) failure = error;
      }
    }
  }
  const left = processesOf(root);
  if (left.length === 0) return;
  throw new HutchError(
    `cannot move the processes of ${root} (${left.join(' ')}) into ${leaf}: a cgroup that hands controllers to containers may hold no processes`,
    {
      cause: failure,
      hint: 'they may belong to another user; start hutch in a cgroup below the delegated one (systemd-run --user --scope hutch …)',
    },
  );
}

/**
 * Makes ROOT/hutch ready to hold container cgroups that use `controllers`:
 * ROOT emptied of processes, the controllers enabled on ROOT and ROOT/hutch.
 * Returns ROOT/hutch. `wanted` are enabled when possible (for statistics),
 * `controllers` must be: a refusal is a HutchError naming the controller.
 */
export function prepareContainersParent(
  subtree: Subtree,
  controllers: string[],
  wanted: readonly string[] = [],
): string {
  const { root } = subtree;
  leaveRoot(root);
  const parent = join(root, CONTAINERS_CGROUP);
  mkdirIfMissing(parent);
  for (const dir of [root, parent]) {
    try {
      enableControllers(dir, controllers);
    } catch (error) {
      throw new HutchError(
        `cannot enable the ${controllers.join(', ')} controllers in ${dir}: ${(error as Error).message}`,
        {
          cause: error,
          hint:
            error instanceof SyscallError && error.code === 'EBUSY'
              ? `${dir} holds processes (cgroup.procs): move them into a child cgroup first`
              : `see ${join(dir, 'cgroup.controllers')} for what this cgroup may hand on`,
        },
      );
    }
    for (const controller of wanted.filter((c) => subtree.available.includes(c) && !controllers.includes(c))) {
      try {
        enableControllers(dir, [controller]);
      } catch {
        // Only for statistics: a container without it still gets its limits.
      }
    }
  }
  return parent;
}
