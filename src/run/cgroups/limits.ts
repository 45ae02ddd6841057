/**
 * Resource limits as the user gives them (podman's and docker's flags) and as
 * cgroup v2 takes them (the kernel's admin guide, cgroup-v2.rst): which
 * controller each limit needs and which file it is written to. Pure: the
 * decisions that need the host (does io.bfq.weight exist, what is the device
 * number of /dev/sda) come in through WriteContext.
 */
import { HutchError } from '../../errors.js';
import { parseBytes } from '../../units.js';

/** Bytes per second read from one block device (--device-read-bps /dev/sda:1mb). */
export interface DeviceRate {
  /** The device node's path on the host, e.g. /dev/sda. */
  device: string;
  /** Bytes per second. */
  rate: number;
}

/**
 * The limits of one container. Byte counts and the pids limit take -1 for
 * "no limit" (what `hutch update` writes to lift one); cpus 0 lifts the quota.
 * Everything is JSON: it is kept in the container's state.
 */
export interface Limits {
  /** memory.max, bytes. */
  memory?: number;
  /** Memory plus swap (docker's meaning), bytes: memory.swap.max gets the difference. */
  memorySwap?: number;
  /** memory.low, bytes: a soft guarantee. */
  memoryReservation?: number;
  /** cpu.max: this many CPUs' worth of time per period. */
  cpus?: number;
  /** cpu.weight, 1-10000 (--cpu-weight, or --cpu-shares converted). */
  cpuWeight?: number;
  /** cpuset.cpus, e.g. "0-2,4". */
  cpusetCpus?: string;
  /** pids.max. */
  pidsLimit?: number;
  /** --blkio-weight, 10-1000: io.bfq.weight as given, io.weight converted. */
  blkioWeight?: number;
  /** io.max rbps per device. */
  deviceReadBps?: DeviceRate[];
}

export type Controller = 'cpu' | 'cpuset' | 'memory' | 'pids' | 'io';

/** The flag behind each limit, for messages. */
export const LIMIT_FLAGS: Record<keyof Limits, string> = {
  memory: '--memory',
  memorySwap: '--memory-swap',
  memoryReservation: '--memory-reservation',
  cpus: '--cpus',
  cpuWeight: '--cpu-weight',
  cpusetCpus: '--cpuset-cpus',
  pidsLimit: '--pids-limit',
  blkioWeight: '--blkio-weight',
  deviceReadBps: '--device-read-bps',
};

const CONTROLLER_OF: Record<keyof Limits, Controller> = {
  memory: 'memory',
  memorySwap: 'memory',
  memoryReservation: 'memory',
  cpus: 'cpu',
  cpuWeight: 'cpu',
  cpusetCpus: 'cpuset',
  pidsLimit: 'pids',
  blkioWeight: 'io',
  deviceReadBps: 'io',
};

/** podman's default pids limit (containers.conf pids_limit), where a pids controller is delegated. */
export const DEFAULT_PIDS_LIMIT = 2048;

/**
 * The limits with podman's default filled in: a pids limit of 2048 unless one
 * was given (-1 or 0 lifts it), only where the pids controller is delegated,
 * as podman applies its default only where a cgroup can hold it (elsewhere
 * nothing would enforce it, and an explicit --pids-limit is refused instead).
 */
export function withDefaultLimits(limits: Limits, pidsControllerDelegated: boolean): Limits {
  if (limits.pidsLimit !== undefined || !pidsControllerDelegated) return limits;
  return { ...limits, pidsLimit: DEFAULT_PIDS_LIMIT };
}

/** Docker's smallest memory limit: below it a container cannot even start its runtime. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** cpu.max's period, in microseconds (the kernel's and podman's default). */
export const CPU_PERIOD = 100_000;

const UNLIMITED = -1;

/** The limits that were given, in a stable order. */
function givenKeys(limits: Limits): (keyof Limits)[] {
  return (Object.keys(LIMIT_FLAGS) as (keyof Limits)[]).filter((key) => {
    const value = limits[key];
    return Array.isArray(value) ? value.length > 0 : value !== undefined;
  });
}

/**
 * Whether anything is actually restricted. A limit set to "none" (-1, cpus 0)
 * restricts nothing, so on `hutch run` it needs no cgroup.
 */
export function hasLimits(limits: Limits): boolean {
  return givenKeys(limits).some((key) => {
    const value = limits[key];
    if (key === 'cpus') return (value as number) > 0;
    if (typeof value === 'number') return value !== UNLIMITED && !(key === 'pidsLimit' && value === 0);
    return true;
  });
}

/** The controllers the given limits need, each with the flags that need it. */
export function neededControllers(limits: Limits): Map<Controller, string[]> {
  const needed = new Map<Controller, string[]>();
  for (const key of givenKeys(limits)) {
    const controller = CONTROLLER_OF[key];
    needed.set(controller, [...(needed.get(controller) ?? []), LIMIT_FLAGS[key]]);
  }
  return needed;
}

/** A later `hutch update` over the limits in force: what it names replaces, the rest stays. */
export function mergeLimits(current: Limits, update: Limits): Limits {
  const merged: Limits = { ...current };
  for (const key of givenKeys(update)) (merged as Record<string, unknown>)[key] = update[key];
  // A new memory limit without a new swap limit: docker recomputes the default (twice the memory).
  if (update.memory !== undefined && update.memorySwap === undefined) delete merged.memorySwap;
  return merged;
}

// ---- parsing the flags' values -------------------------------------------------------------

export { parseBytes };

function parseInteger(text: string, flag: string, min: number, max: number, hint: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new HutchError(`invalid ${flag} ${JSON.stringify(text)}`, { hint });
  const value = Number(text.trim());
  if (value < min || value > max) throw new HutchError(`invalid ${flag} ${value}: out of range`, { hint });
  return value;
}

/** --memory, --memory-reservation: a size, or -1 for none. */
export function parseMemory(text: string, flag: string): number {
  if (text.trim() === '-1') return UNLIMITED;
  const bytes = parseBytes(text, flag);
  if (flag === '--memory' && bytes < MIN_MEMORY) {
    throw new HutchError(`invalid ${flag} ${text}: the minimum memory limit is 6MB`, {
      hint: 'give at least 6m',
    });
  }
  return bytes;
}

/** --memory-swap: memory plus swap (a size), or -1 for unlimited swap. */
export function parseMemorySwap(text: string): number {
  return text.trim() === '-1' ? UNLIMITED : parseBytes(text, '--memory-swap');
}

/** --cpus: a decimal number of CPUs, at least 0.01 (one millisecond per 100 ms period); 0 lifts the limit. */
export function parseCpus(text: string): number {
  const hint = 'give a number of CPUs such as 0.5 or 2';
  if (!/^\d*(\.\d+)?$/.test(text.trim()) || text.trim() === '')
    throw new HutchError(`invalid --cpus ${JSON.stringify(text)}`, { hint });
  const cpus = Number(text.trim());
  if (cpus !== 0 && cpus < 0.01) throw new HutchError(`invalid --cpus ${text}: the minimum is 0.01`, { hint });
  return cpus;
}

/**
 * cgroup v1's cpu.shares (2-262144, default 1024) as cgroup v2's cpu.weight
 * (1-10000, default 100), with crun's conversion: a quadratic fit in log2
 * space that maps 2, 1024 and 262144 onto 1, 100 and 10000. 0 means unset.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262_144) return 10_000;
  const l = Math.log2(shares);
  return Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
}

/** --cpu-shares as docker takes it (2-262144); returns the cpu.weight. */
export function parseCpuShares(text: string): number {
  const shares = parseInteger(
    text,
    '--cpu-shares',
    2,
    262_144,
    'give a relative weight from 2 to 262144 (default 1024)',
  );
  return sharesToWeight(shares);
}

/** --cpu-weight: cgroup v2's own scale. */
export function parseCpuWeight(text: string): number {
  return parseInteger(text, '--cpu-weight', 1, 10_000, 'give a weight from 1 to 10000 (default 100)');
}

/** --cpuset-cpus: a list of CPUs and ranges, "0-2,4". */
export function parseCpuset(text: string): string {
  const value = text.trim();
  const ok = /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value);
  const ordered =
    ok &&
    value.split(',').every((part) => {
      const [low, high] = part.split('-').map(Number) as [number, number | undefined];
      return high === undefined || low <= high;
    });
  if (!ordered) {
    throw new HutchError(`invalid --cpuset-cpus ${JSON.stringify(text)}`, {
      hint: 'give CPU numbers and ranges, e.g. 0-2,4',
    });
  }
  return value;
}

/** --pids-limit: a number of processes; -1 or 0 for none (podman). */
export function parsePidsLimit(text: string): number {
  const value = parseInteger(text, '--pids-limit', -1, 2 ** 31 - 1, 'give a number of processes, or -1 for no limit');
  return value === 0 ? UNLIMITED : value;
}

/** --blkio-weight: 10-1000 (docker's scale, BFQ's). */
export function parseBlkioWeight(text: string): number {
  return parseInteger(text, '--blkio-weight', 10, 1000, 'give a weight from 10 to 1000');
}

/** --device-read-bps PATH:RATE, the rate a size per second (1mb). */
export function parseDeviceRate(text: string): DeviceRate {
  const colon = text.lastIndexOf(':');
  const device = text.slice(0, colon);
  if (colon <= 0 || !device.startsWith('/')) {
    throw new HutchError(`invalid --device-read-bps ${JSON.stringify(text)}`, {
      hint: 'give DEVICE:RATE, e.g. /dev/sda:1mb',
    });
  }
  return { device, rate: parseBytes(text.slice(colon + 1), '--device-read-bps') };
}

/** The raw values of the limit flags, as commander collects them. */
export interface LimitFlagValues {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpuWeight?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  blkioWeight?: string;
  deviceReadBps?: string[];
}

/** The flags as Limits, each checked alone, then together (docker's rules). */
export function limitsFromFlags(values: LimitFlagValues): Limits {
  const limits: Limits = {};
  if (values.memory !== undefined) limits.memory = parseMemory(values.memory, '--memory');
  if (values.memorySwap !== undefined) limits.memorySwap = parseMemorySwap(values.memorySwap);
  if (values.memoryReservation !== undefined)
    limits.memoryReservation = parseMemory(values.memoryReservation, '--memory-reservation');
  if (values.cpus !== undefined) limits.cpus = parseCpus(values.cpus);
  if (values.cpuShares !== undefined && values.cpuWeight !== undefined) {
    throw new HutchError('--cpu-shares and --cpu-weight set the same thing', { hint: 'give one of them' });
  }
  // docker: --cpu-shares 0 and --blkio-weight 0 mean "not set".
  if (values.cpuShares !== undefined && values.cpuShares.trim() !== '0')
    limits.cpuWeight = parseCpuShares(values.cpuShares);
  if (values.cpuWeight !== undefined) limits.cpuWeight = parseCpuWeight(values.cpuWeight);
  if (values.cpusetCpus !== undefined) limits.cpusetCpus = parseCpuset(values.cpusetCpus);
  if (values.pidsLimit !== undefined) limits.pidsLimit = parsePidsLimit(values.pidsLimit);
  if (values.blkioWeight !== undefined && values.blkioWeight.trim() !== '0')
    limits.blkioWeight = parseBlkioWeight(values.blkioWeight);
  if (values.deviceReadBps !== undefined && values.deviceReadBps.length > 0)
    limits.deviceReadBps = values.deviceReadBps.map(parseDeviceRate);
  checkLimits(limits);
  return limits;
}

/** The rules between limits (docker's): swap needs memory and is not below it, a reservation not above it. */
export function checkLimits(limits: Limits): void {
  const { memory, memorySwap, memoryReservation } = limits;
  const limited = (value: number | undefined): value is number => value !== undefined && value !== UNLIMITED;
  if (memorySwap !== undefined && !limited(memory)) {
    throw new HutchError('--memory-swap needs --memory', {
      hint: '--memory-swap is memory plus swap: give --memory too (-1 allows unlimited swap)',
    });
  }
  if (limited(memorySwap) && limited(memory) && memorySwap < memory) {
    throw new HutchError('--memory-swap must not be less than --memory', {
      hint: '--memory-swap is memory plus swap: equal to --memory means no swap',
    });
  }
  if (limited(memoryReservation) && limited(memory) && memoryReservation > memory) {
    throw new HutchError('--memory-reservation must not be more than --memory', {
      hint: 'the reservation is a soft guarantee below the limit',
    });
  }
}

/**
 * The limits as podman's `inspect` shows them in HostConfig (docker's names
 * and units: bytes, NanoCpus = CPUs × 10⁹, CpuQuota per CpuPeriod µs); 0, ""
 * or null where none is set. MemorySwap is what is in force: twice --memory
 * when only --memory was given, as docker and podman default it.
 */
export function hostConfigResources(limits: Limits): Record<string, unknown> {
  const positive = (value: number | undefined) => (value === undefined || value === UNLIMITED ? 0 : value);
  const memory = positive(limits.memory);
  const swap = limits.memorySwap !== undefined ? limits.memorySwap : memory > 0 ? 2 * memory : 0;
  const cpus = limits.cpus ?? 0;
  return {
    Memory: memory,
    MemorySwap: swap,
    MemoryReservation: positive(limits.memoryReservation),
    NanoCpus: Math.round(cpus * 1e9),
    CpuPeriod: cpus > 0 ? CPU_PERIOD : 0,
    CpuQuota: cpus > 0 ? Math.round(cpus * CPU_PERIOD) : 0,
    CpuWeight: limits.cpuWeight ?? 0,
    CpusetCpus: limits.cpusetCpus ?? '',
    PidsLimit: positive(limits.pidsLimit),
    BlkioWeight: limits.blkioWeight ?? 0,
    BlkioDeviceReadBps:
      limits.deviceReadBps === undefined ? null : limits.deviceReadBps.map((d) => ({ Path: d.device, Rate: d.rate })),
  };
}

// ---- limits as cgroup v2 files -------------------------------------------------------------

/** One write to a cgroup interface file, and the flag it comes from. */
export interface CgroupWrite {
  file: string;
  value: string;
  flag: string;
}

/** What the writes depend on that only the host knows. */
export interface WriteContext {
  /** Whether the cgroup has this interface file (io.bfq.weight, memory.swap.max). */
  hasFile(name: string): boolean;
  /** MAJOR:MINOR of a block device node; throws when it is not one. */
  deviceNumber(path: string): string;
}

const bytesValue = (value: number) => (value === UNLIMITED ? 'max' : String(value));

/**
 * docker's --blkio-weight (10-1000) on io.weight's scale (1-10000), as runc
 * and crun convert it when the kernel has io.weight but not io.bfq.weight.
 */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * The file writes that put `limits` on a cgroup, in an order the kernel
 * accepts (memory.max before memory.swap.max). Throws a HutchError for a limit
 * this kernel has no file for, rather than leaving it unenforced. A default
 * docker adds (swap equal to memory) is skipped where there is no swap accounting.
 */
export function limitWrites(limits: Limits, context: WriteContext): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  const add = (file: string, value: string, key: keyof Limits) => writes.push({ file, value, flag: LIMIT_FLAGS[key] });
  if (limits.memory !== undefined) {
    add('memory.max', bytesValue(limits.memory), 'memory');
    const swap =
      limits.memorySwap !== undefined
        ? limits.memorySwap === UNLIMITED
          ? 'max'
          : String(limits.memorySwap - limits.memory)
        : limits.memory === UNLIMITED
          ? 'max'
          : String(limits.memory);
    if (context.hasFile('memory.swap.max')) {
      add('memory.swap.max', swap, limits.memorySwap !== undefined ? 'memorySwap' : 'memory');
    } else if (limits.memorySwap !== undefined) {
      throw new HutchError('--memory-swap cannot be enforced: this kernel does not account swap in cgroups', {
        hint: 'boot with swapaccount=1 (a kernel built with CONFIG_MEMCG_SWAP), or leave --memory-swap out',
      });
    }
  }
  if (limits.memoryReservation !== undefined)
    add('memory.low', bytesValue(limits.memoryReservation), 'memoryReservation');
  if (limits.cpus !== undefined) {
    const quota = limits.cpus === 0 ? 'max' : String(Math.round(limits.cpus * CPU_PERIOD));
    add('cpu.max', `${quota} ${CPU_PERIOD}`, 'cpus');
  }
  if (limits.cpuWeight !== undefined) add('cpu.weight', String(limits.cpuWeight), 'cpuWeight');
  if (limits.cpusetCpus !== undefined) add('cpuset.cpus', limits.cpusetCpus, 'cpusetCpus');
  if (limits.pidsLimit !== undefined) add('pids.max', bytesValue(limits.pidsLimit), 'pidsLimit');
  if (limits.blkioWeight !== undefined) {
    if (context.hasFile('io.bfq.weight')) add('io.bfq.weight', `default ${limits.blkioWeight}`, 'blkioWeight');
    else if (context.hasFile('io.weight'))
      add('io.weight', `default ${blkioToIoWeight(limits.blkioWeight)}`, 'blkioWeight');
    else {
      throw new HutchError('--blkio-weight cannot be enforced: this kernel has neither io.bfq.weight nor io.weight', {
        hint: 'weights need the BFQ scheduler with group scheduling (CONFIG_BFQ_GROUP_IOSCHED) or io.cost; --device-read-bps works without them',
      });
    }
  }
  for (const { device, rate } of limits.deviceReadBps ?? []) {
    add('io.max', `${context.deviceNumber(device)} rbps=${rate === UNLIMITED ? 'max' : rate}`, 'deviceReadBps');
  }
  return writes;
}
