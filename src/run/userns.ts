import { readFileSync } from 'node:fs';

/** The kernel settings that decide whether an unprivileged user may create a user namespace. */
export interface UsernsFacts {
  /** user.max_user_namespaces: 0 disables them. */
  maxUserNamespaces: number | undefined;
  /** kernel.unprivileged_userns_clone (Debian's older kernels): 0 disables them. */
  unprivilegedUsernsClone: number | undefined;
  /** kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+): 1 restricts them. */
  apparmorRestrict: number | undefined;
}

function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function readUsernsFacts(procSys = '/proc/sys'): UsernsFacts {
  return {
    maxUserNamespaces: readNumber(`${procSys}/user/max_user_namespaces`),
    unprivilegedUsernsClone: readNumber(`${procSys}/kernel/unprivileged_userns_clone`),
    apparmorRestrict: readNumber(`${procSys}/kernel/apparmor_restrict_unprivileged_userns`),
  };
}
