/**
 * The plan steps that give a container process its identity and privileges:
 * groups, gid, uid, capability sets, no_new_privs and the seccomp filter, in
 * the order the kernel requires. The steps run in the plan child, in the
 * container's user namespace, as root of that namespace with every
 * capability (the state a child has after clone(CLONE_NEWUSER) or setns into
 * the session).
 */
import type { ProcessSpec } from '../container/spec.js';
import type { Plan } from '../../host/plan.js';
import { capabilityBit, capabilityNumber } from './capabilities.js';

export interface CredentialOptions {
  /**
   * False when the user namespace denies setgroups(2): a single-id map
   * written without newgidmap requires `deny` in /proc/PID/setgroups
   * (user_namespaces(7)). The process then keeps the supplementary groups it
   * was cloned with.
   */
  setgroupsAllowed: boolean;
}

/** Where the seccomp filter is loaded; see seccompPlacement. */
export type SeccompPlacement = 'last' | 'before-setresuid' | 'before-capset';

const CAP_SYS_ADMIN = capabilityBit(capabilityNumber('CAP_SYS_ADMIN'));

/**
 * seccomp(SECCOMP_SET_MODE_FILTER) succeeds only with no_new_privs set or
 * with CAP_SYS_ADMIN in the effective set of the caller's user namespace
 * (seccomp(2)). So:
 *
 * - no_new_privs on, or CAP_SYS_ADMIN kept in the final effective set: load
 *   the filter last, right before execve, so that the fewest system calls
 *   run under it (runc and crun do the same);
 * - otherwise the filter must be loaded while the child still holds
 *   CAP_SYS_ADMIN: before setresuid when the process leaves uid 0 (a uid
 *   change away from 0 clears the effective set even with keep-caps,
 *   capabilities(7)), before capset when it stays root (capset drops
 *   CAP_SYS_ADMIN). The steps after it then run under the filter, so the
 *   profile must allow setresuid, capset, prctl and execve, as docker's
 *   default profile and hutch's do (runc has the same requirement: it loads
 *   the filter before changing user when no_new_privs is off).
 */
export function seccompPlacement(
  process: Pick<ProcessSpec, 'uid' | 'noNewPrivileges' | 'capabilities'>,
): SeccompPlacement {
  if (process.noNewPrivileges) return 'last';
  if ((process.capabilities.effective & CAP_SYS_ADMIN) !== 0n) return 'last';
  return process.uid === 0 ? 'before-capset' : 'before-setresuid';
}

/**
 * Appends the credential steps; the caller appends execve right after them
 * (anything in between runs with the final privileges and under the filter).
 *
 * Order (capabilities(7), "Effect of user ID changes on capabilities";
 * prctl(2)):
 * 1. capBounding: PR_CAPBSET_DROP needs CAP_SETPCAP, held only before the uid
 *    changes. Dropping from the bounding set leaves the permitted set alone,
 *    so the steps below keep CAP_SETUID/CAP_SETGID.
 * 2. setgroups, then setresgid: both need CAP_SETGID, gone once the uid is
 *    not 0; groups first so no moment has the new gid with the old groups.
 * 3. keepCaps(true), then setresuid: without PR_SET_KEEPCAPS a change from
 *    uid 0 to another uid clears the permitted set, and with it every
 *    capability the process should keep (ambient ones included).
 * 4. capSet: a uid change away from 0 cleared the effective set; set all
 *    three sets now. Without CAP_SETPCAP in effective (a non-root user here)
 *    the new inheritable set must lie within the old permitted one, which
 *    keep-caps preserved.
 * 5. capAmbient: PR_CAP_AMBIENT_RAISE needs the capability in both permitted
 *    and inheritable, so it follows capSet.
 * 6. keepCaps(false): the flag is cleared on execve anyway; clear it so the
 *    program does not inherit a surprise if it changes uid itself.
 * 7. noNewPrivs, then seccomp (see seccompPlacement).
 */
export function credentialSteps(plan: Plan, process: ProcessSpec, options: CredentialOptions): void {
  const caps = process.capabilities;
  const placement = seccompPlacement(process);
  const loadFilter = (at: SeccompPlacement) => {
    if (process.seccomp !== undefined && placement === at) plan.seccomp(process.seccomp);
  };

  plan.capBounding(caps.bounding);
  // An empty list too: it clears the groups the child was cloned with.
  if (options.setgroupsAllowed) plan.setgroups(process.additionalGids);
  plan.setresgid(process.gid, process.gid, process.gid);
  plan.keepCaps(true);
  loadFilter('before-setresuid');
  plan.setresuid(process.uid, process.uid, process.uid);
  loadFilter('before-capset');
  plan.capSet(caps.effective, caps.permitted, caps.inheritable);
  plan.capAmbient(caps.ambient);
  plan.keepCaps(false);
  if (process.noNewPrivileges) plan.noNewPrivs();
  loadFilter('last');
}
