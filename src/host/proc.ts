/** Facts about a process from /proc, to tell a live process from a reused pid. */
import { readFileSync, readlinkSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command name (state first), or undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    // ENOENT or ESRCH: the process is gone (or reaped while we read)
    return undefined;
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks); undefined when the process is gone. */
export function processStartTime(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : Number(fields[19]);
}

/** processStartTime, but undefined for a zombie too: it has exited and only waits for its parent. */
export function liveProcessStartTime(pid: number): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return Number(fields[19]);
}

/** The namespaces `ps --ns` shows, as /proc/PID/ns names them. */
export const NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts'] as const;
export type NamespaceKind = (typeof NAMESPACE_KINDS)[number];

/**
 * The inode number of each namespace of a process (`net:[4026531840]` →
 * `4026531840`), as podman's ps --ns prints them; '' for one that cannot be
 * read (the process is gone, or is not ours to look at).
 */
export function namespaceInodes(pid: number): Record<NamespaceKind, string> {
  const inodes = {} as Record<NamespaceKind, string>;
  for (const kind of NAMESPACE_KINDS) {
    try {
      inodes[kind] = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${kind}`))?.[1] ?? '';
    } catch {
      inodes[kind] = '';
    }
  }
  return inodes;
}
