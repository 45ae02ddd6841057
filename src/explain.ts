/**
 * From an error to what the user reads: one line, a hint, an exit status.
 * Pure: the host facts it needs are passed in, so every rule is unit-tested.
 */
import { causeChain, ContextError, ExitCode, HutchError, messageOf, SyscallError } from './errors.js';

export interface Explained {
  line: string;
  hint: string | undefined;
  exitCode: number;
}

/** What explain() needs to know of the host (read by src/host/userns.ts). */
export interface HostFacts {
  /** user.max_user_namespaces: 0 disables user namespaces. */
  maxUserNamespaces: number | undefined;
  /** kernel.unprivileged_userns_clone (Debian's older kernels): 0 disables them. */
  unprivilegedUsernsClone: number | undefined;
  /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+): 1 restricts them. */
  apparmorRestrict: number | undefined;
}

const SYSCTL_PERSIST = 'and persist it in /etc/sysctl.d/';

function usernsRule(error: SyscallError, contexts: string[], facts: HostFacts): Explained | undefined {
  const inUserns = contexts.includes('userns') || contexts.includes('session');
  if (!inUserns) return undefined;
  const at = (line: string, hint: string): Explained => ({ line, hint, exitCode: ExitCode.Error });
  if (error.code === 'ENOSPC' && error.syscall.startsWith('clone')) {
    if (facts.maxUserNamespaces === 0) {
      return at(
        'cannot create a user namespace: user namespaces are disabled (user.max_user_namespaces = 0)',
        `as root: sysctl -w user.max_user_namespaces=28633, ${SYSCTL_PERSIST}`,
      );
    }
    return at(
      `cannot create a user namespace: the limit user.max_user_namespaces (${facts.maxUserNamespaces ?? 'unknown'}) is reached`,
      `stop processes that hold user namespaces, or raise the limit as root: sysctl -w user.max_user_namespaces=28633`,
    );
  }
  if (error.code === 'EUSERS') {
    return at(
      'cannot create a user namespace: too many nested user namespaces (the kernel allows 32)',
      'run hutch from a shallower namespace',
    );
  }
  if (error.code === 'EPERM' || error.code === 'EACCES') {
    if (facts.unprivilegedUsernsClone === 0) {
      return at(
        'cannot create a user namespace: unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)',
        `as root: sysctl -w kernel.unprivileged_userns_clone=1, ${SYSCTL_PERSIST}`,
      );
    }
    if (facts.apparmorRestrict === 1) {
      return at(
        'cannot use a user namespace: AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)',
        'as root, allow hutch with an AppArmor profile granting "userns," for bin/hutch (see docs/troubleshooting.md), ' +
          'or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
      );
    }
    if (error.syscall.startsWith('clone')) {
      return at(
        'cannot create a user namespace: the kernel refused it (EPERM); a seccomp filter or a security module forbids it here',
        'run hutch directly on the host, or allow user namespaces in the sandbox or container that runs it',
      );
    }
  }
  return undefined;
}

export function explain(error: unknown, facts: HostFacts): Explained {
  const chain = causeChain(error);
  const contexts = chain.filter((e): e is ContextError => e instanceof ContextError).map((e) => e.what);
  const known = chain.find((e): e is HutchError => e instanceof HutchError);
  if (known !== undefined) {
    return { line: messageOf(error), hint: known.hint, exitCode: known.exitCode };
  }
  const syscall = chain.find((e): e is SyscallError => e instanceof SyscallError);
  if (syscall !== undefined) {
    const rule = usernsRule(syscall, contexts, facts);
    if (rule !== undefined) return rule;
  }
  return { line: messageOf(error), hint: undefined, exitCode: ExitCode.Error };
}
