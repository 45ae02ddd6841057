import { readFileSync } from 'node:fs';
import type { HostFacts } from '../explain.js';

/** The kernel settings that decide whether an unprivileged user may create a user namespace. */
export type UsernsFacts = HostFacts;

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
