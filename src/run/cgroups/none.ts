/**
 * The "none" driver: a container without a cgroup of its own shares hutch's.
 * That is fine when no limit was asked for; when one was and this host cannot
 * enforce it, refusal() says why and how to get it (exit 125), because a limit
 * accepted and not enforced is worse than none.
 */
import { HutchError } from '../../errors.js';
import type { Controller } from './limits.js';
import { DELEGATE_FIX, SCOPE_FIX, UNIFIED_FIX, type CgroupFacts } from './probe.js';

/** What cgroup v1 calls a cgroup v2 controller. */
const V1_NAME: Record<Controller, string> = {
  cpu: 'cpu',
  cpuset: 'cpuset',
  memory: 'memory',
  pids: 'pids',
  io: 'blkio',
};

function list(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** "cannot enforce --memory, --pids-limit (memory and pids controllers)" */
function what(needed: Map<Controller, string[]>, controllers: Controller[]): string {
  const flags = controllers.flatMap((c) => needed.get(c) ?? []);
  const noun = controllers.length === 1 ? 'controller' : 'controllers';
  return `cannot enforce ${flags.join(', ')} (cgroup v2 ${list(controllers)} ${noun})`;
}

function delegateHint(root: string, missing: Controller[]): string {
  return (
    `systemd: systemctl edit user@.service and set [Service] Delegate=cpu cpuset io memory pids, then log in again; ` +
    `without systemd, as root: echo ${missing.map((c) => `+${c}`).join(' ')} > ${root}/../cgroup.subtree_control`
  );
}

/**
 * Why `needed` cannot be had here, or undefined when it can. `kernel` is the
 * hierarchy root's cgroup.controllers when readable (what the kernel offers at
 * all), to tell "not delegated" from "not built".
 */
export function refusal(
  facts: CgroupFacts,
  needed: Map<Controller, string[]>,
  kernel: string[] | undefined,
): HutchError | undefined {
  const controllers = [...needed.keys()];
  if (controllers.length === 0) return undefined;
  const all = what(needed, controllers);
  if (facts.layout === 'v1') {
    return new HutchError(`${all}: this host has cgroup v1 only (${facts.v1Controllers.join(' ')})`, {
      hint: UNIFIED_FIX,
    });
  }
  if (facts.v2Mount === null) {
    return new HutchError(`${all}: no cgroup file system is mounted`, {
      hint: 'as root: mount -t cgroup2 none /sys/fs/cgroup',
    });
  }
  // On a hybrid host the controllers bound to v1 cannot appear in v2 at all: that is the first thing to fix.
  const onV1 = controllers.filter(
    (c) =>
      facts.layout === 'hybrid' && facts.v1Controllers.includes(V1_NAME[c]) && !facts.delegatedControllers.includes(c),
  );
  if (onV1.length > 0) {
    const noun = onV1.length === 1 ? 'it' : 'them';
    return new HutchError(
      `${what(needed, onV1)}: this host binds ${list(onV1.map((c) => V1_NAME[c]))} to cgroup v1; its cgroup v2 hierarchy at ${facts.v2Mount} cannot have ${noun} (a v1/v2 hybrid layout)`,
      { hint: UNIFIED_FIX },
    );
  }
  if (facts.v2Dir === null) {
    return new HutchError(`${all}: this process's cgroup ${facts.v2Path ?? ''} is not visible under ${facts.v2Mount}`, {
      hint: DELEGATE_FIX,
    });
  }
  if (!facts.delegated || facts.delegationRoot === null) {
    if (facts.delegatedAncestor !== null) {
      return new HutchError(
        `${all}: hutch runs in ${facts.v2Dir}, which is not yours, though ${facts.delegatedAncestor} is delegated to you`,
        { hint: SCOPE_FIX },
      );
    }
    return new HutchError(
      `${all}: no cgroup v2 subtree is delegated to you (${facts.v2Dir} belongs to uid ${facts.v2DirOwner ?? 'unknown'})`,
      { hint: DELEGATE_FIX },
    );
  }
  const missing = controllers.filter((c) => !facts.delegatedControllers.includes(c));
  if (missing.length === 0) return undefined;
  const notBuilt = kernel === undefined ? [] : missing.filter((c) => !kernel.includes(c));
  if (notBuilt.length > 0) {
    return new HutchError(
      `${what(needed, notBuilt)}: this kernel has no ${list(notBuilt)} controller (it offers ${kernel?.join(' ') || 'none'})`,
      { hint: `a kernel built with the ${list(notBuilt)} controller${notBuilt.length === 1 ? '' : 's'} is needed` },
    );
  }
  const have = facts.delegatedControllers.length > 0 ? facts.delegatedControllers.join(' ') : 'none';
  return new HutchError(
    `${what(needed, missing)}: your delegated cgroup ${facts.delegationRoot} is not given ${list(missing)} (it has: ${have})`,
    { hint: delegateHint(facts.delegationRoot, missing) },
  );
}
