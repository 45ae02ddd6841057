/**
 * System call numbers by name for the architectures hutch filters: x86_64
 * and aarch64, from tables generated out of the kernel headers
 * (scripts/gen-syscalls.mjs). Only the native 64-bit ABIs: a 32-bit (i386,
 * arm) or x32 program is refused by the filter's architecture check.
 */
import { HutchError } from '../../../errors.js';
import * as aarch64 from './syscalls-aarch64.js';
import * as x86_64 from './syscalls-x86_64.js';

export type SeccompArch = 'x86_64' | 'aarch64';

const tables: Record<SeccompArch, ReadonlyMap<string, number>> = {
  x86_64: new Map(Object.entries(x86_64.syscalls)),
  aarch64: new Map(Object.entries(aarch64.syscalls)),
};

const names: Record<SeccompArch, ReadonlyMap<number, string>> = {
  x86_64: new Map(Object.entries(x86_64.syscalls).map(([name, nr]) => [nr, name])),
  aarch64: new Map(Object.entries(aarch64.syscalls).map(([name, nr]) => [nr, name])),
};

/** The Linux headers each table comes from ("6.1"). */
export const tableHeaders: Record<SeccompArch, string> = {
  x86_64: x86_64.linuxHeaders,
  aarch64: aarch64.linuxHeaders,
};

/** The seccomp architecture of this node (process.arch), or a HutchError. */
export function hostArch(nodeArch: string = process.arch): SeccompArch {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  throw new HutchError(`seccomp filters are not supported on ${nodeArch}`, {
    hint: 'hutch compiles seccomp filters for x86_64 and aarch64; run with --security-opt seccomp=unconfined',
  });
}

export function syscallTable(arch: SeccompArch): ReadonlyMap<string, number> {
  return tables[arch];
}

/** The number of a system call, or undefined when the architecture has none by that name. */
export function syscallNumber(name: string, arch: SeccompArch = hostArch()): number | undefined {
  return tables[arch].get(name);
}

export function syscallName(nr: number, arch: SeccompArch = hostArch()): string | undefined {
  return names[arch].get(nr);
}
