/** Facts about a process from /proc, to tell a live process from a reused pid. */
import { readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after the command name (state first), or undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
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
