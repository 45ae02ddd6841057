/**
 * Linux capabilities by name and as bigint masks (bit n = capability n), and
 * the capability sets of a container process with podman's rules. Pure apart
 * from two small readers of /proc that callers may replace in tests.
 */
import { readFileSync } from 'node:fs';
import { ExitCode, HutchError } from '../../errors.js';
import type { Capabilities } from '../container/spec.js';

/** Capability names by number (include/uapi/linux/capability.h). */
export const capabilityNames: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** The highest capability this table names (CAP_CHECKPOINT_RESTORE, Linux 5.9). */
export const LAST_KNOWN_CAP = capabilityNames.length - 1;

const numbersByName = new Map(capabilityNames.map((name, number) => [name, number]));

const UNKNOWN_HINT =
  'capability names are listed in capabilities(7) (`man 7 capabilities`); the CAP_ prefix is optional, ALL means every capability';

/** `net_raw`, `NET_RAW` and `CAP_NET_RAW` all become `CAP_NET_RAW`; `all` becomes `ALL`. */
export function normalizeCapabilityName(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** The number of a capability, or a HutchError naming it (exit 125). */
export function capabilityNumber(name: string): number {
  const normalized = normalizeCapabilityName(name);
  const number = numbersByName.get(normalized);
  if (number === undefined) {
    throw new HutchError(`unknown capability ${JSON.stringify(normalized)}`, {
      hint: UNKNOWN_HINT,
      exitCode: ExitCode.Error,
    });
  }
  return number;
}

export function capabilityBit(number: number): bigint {
  return 1n << BigInt(number);
}

/** Every capability numbered 0..lastCap. */
export function capabilitiesUpTo(lastCap: number): bigint {
  return (1n << BigInt(lastCap + 1)) - 1n;
}

export function hasCapability(mask: bigint, name: string): boolean {
  return (mask & capabilityBit(capabilityNumber(name))) !== 0n;
}

/** A list of names as a mask, and whether ALL was among them. Throws on an unknown name. */
export function parseCapabilityList(names: readonly string[]): { all: boolean; mask: bigint } {
  let all = false;
  let mask = 0n;
  for (const name of names) {
    if (normalizeCapabilityName(name) === 'ALL') all = true;
    else mask |= capabilityBit(capabilityNumber(name));
  }
  return { all, mask };
}

/** Names of the capabilities in a mask, lowest first; bits past the table read as `CAP_<n>`. */
export function capabilityNamesOf(mask: bigint): string[] {
  const names: string[] = [];
  for (let n = 0; mask >> BigInt(n) !== 0n; n++) {
    if ((mask & capabilityBit(n)) !== 0n) names.push(capabilityNames[n] ?? `CAP_${n}`);
  }
  return names;
}

/** podman's default set (containers.conf default_capabilities). */
export const defaultCapabilities: bigint = parseCapabilityList([
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]).mask;

/** /proc/sys/kernel/cap_last_cap: the highest capability the running kernel knows. */
export function kernelLastCap(procSys = '/proc/sys'): number {
  try {
    const value = Number(readFileSync(`${procSys}/kernel/cap_last_cap`, 'utf8').trim());
    if (Number.isInteger(value) && value >= 0 && value < 64) return value;
  } catch {
    // Without /proc: assume the kernel knows what this table knows.
  }
  return LAST_KNOWN_CAP;
}

/**
 * The bounding set of this process (CapBnd in /proc/self/status): a process
 * cloned from it cannot hold more, even in a new user namespace, once it execs.
 */
export function ownBoundingSet(statusPath = '/proc/self/status'): bigint | undefined {
  try {
    const match = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(statusPath, 'utf8'));
    return match?.[1] === undefined ? undefined : BigInt(`0x${match[1]}`);
  } catch {
    return undefined;
  }
}

export interface CapabilityOptions {
  /** The container process's uid (inside the container). */
  uid: number;
  capAdd?: readonly string[];
  capDrop?: readonly string[];
  privileged?: boolean;
  /** The kernel's last capability; default: /proc/sys/kernel/cap_last_cap. */
  lastCap?: number;
  /** What hutch itself may hand out; default: this process's bounding set. */
  available?: bigint;
}

/**
 * The five capability sets of a container process, with podman's rules
 * (containers/common MergeCapabilities, podman's specgen):
 *
 * - bounding = default − drop ∪ add. ALL in add means every capability the
 *   kernel knows (minus drop); ALL in drop means none but the added ones; a
 *   capability both added and dropped, or ALL in both, is an error.
 *   --privileged: every capability (minus drop).
 * - uid 0: effective = permitted = bounding; inheritable and ambient empty
 *   (an inheritable set would leak into file-capability programs,
 *   CVE-2022-27649).
 * - any other uid: effective = permitted = inheritable = ambient = only the
 *   capabilities named in add (ALL: every one), within bounding. Ambient is
 *   how a non-root process keeps them across execve (capabilities(7)).
 *
 * Everything is limited to what hutch holds (`available`): capset(2) cannot
 * grant more. ALL and --privileged quietly take what is there, a capability
 * added by name that is not there is an error.
 */
export function containerCapabilities(options: CapabilityOptions): Capabilities {
  const known = capabilitiesUpTo(options.lastCap ?? kernelLastCap());
  const available = (options.available ?? ownBoundingSet() ?? known) & known;
  const add = parseCapabilityList(options.capAdd ?? []);
  const drop = parseCapabilityList(options.capDrop ?? []);

  if (add.all && drop.all) {
    throw new HutchError('adding all capabilities and dropping all capabilities cannot be combined', {
      hint: 'drop ALL and add back the ones the container needs, or add ALL and drop some',
    });
  }
  const both = add.mask & drop.mask;
  if (both !== 0n) {
    throw new HutchError(`capability ${JSON.stringify(capabilityNamesOf(both)[0])} cannot be dropped and added`, {
      hint: 'name each capability in --cap-add or in --cap-drop, not in both',
    });
  }
  const missing = add.mask & ~available;
  if (missing !== 0n && !options.privileged) {
    const name = capabilityNamesOf(missing)[0];
    throw new HutchError(`cannot add capability ${name}: hutch itself does not hold it`, {
      hint: `${name} is missing from the bounding set of the process that started hutch (CapBnd in /proc/self/status), so no process it starts can have it`,
    });
  }

  let bounding: bigint;
  if (add.all) bounding = known & ~drop.mask;
  else if (drop.all) bounding = add.mask;
  else if (options.privileged) bounding = known & ~drop.mask;
  else bounding = (defaultCapabilities & ~drop.mask) | add.mask;
  bounding &= available;

  if (options.uid === 0) {
    return { bounding, effective: bounding, permitted: bounding, inheritable: 0n, ambient: 0n };
  }
  const granted = (add.all ? known : add.mask) & bounding;
  return { bounding, effective: granted, permitted: granted, inheritable: granted, ambient: granted };
}
