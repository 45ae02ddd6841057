/** The host's /etc/hosts and /etc/resolv.conf, the base of every container's own (read at each start). */
import { readFileSync } from 'node:fs';
import type { HostFiles } from './contract.js';

export type HostFileReader = (path: '/etc/hosts' | '/etc/resolv.conf') => string | undefined;

function readHost(path: '/etc/hosts' | '/etc/resolv.conf'): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Missing files read as empty: a host without them gives containers only hutch's entries. */
export function readHostFiles(read: HostFileReader = readHost): HostFiles {
  return { hosts: read('/etc/hosts') ?? '', resolvConf: read('/etc/resolv.conf') ?? '' };
}
