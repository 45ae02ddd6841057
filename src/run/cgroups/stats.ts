/**
 * A container's resource usage from its cgroup's files (memory.current,
 * memory.max, memory.events, cpu.stat, pids.current, pids.max, io.stat), and
 * a container's row of `hutch stats` from two readings.
 */
import { parseKeyed, readCgroupFile } from './v2.js';

/** One reading. null: the controller is not enabled for the cgroup (or there is no limit, for the max fields). */
export interface Stats {
  /** When it was read, in milliseconds since the epoch. */
  readAt: number;
  memoryCurrent: number | null;
  memoryMax: number | null;
  memorySwapCurrent: number | null;
  /** memory.events oom_kill: processes the OOM killer killed in this cgroup and below. */
  oomKills: number;
  /** cpu.stat (always there): microseconds of CPU time. */
  cpuUsageUsec: number;
  cpuUserUsec: number;
  cpuSystemUsec: number;
  /** Periods in which the cpu.max quota ran out, and the time spent throttled. */
  cpuThrottledPeriods: number;
  cpuThrottledUsec: number;
  pidsCurrent: number | null;
  pidsMax: number | null;
  /** Summed over the devices of io.stat. */
  ioReadBytes: number | null;
  ioWriteBytes: number | null;
}

function numberOf(text: string | undefined): number | null {
  if (text === undefined) return null;
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'max') return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

/** io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N …` per device. */
export function parseIoStat(text: string | undefined): { read: number; write: number } | null {
  if (text === undefined) return null;
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [key, value] = field.split('=');
      if (key === 'rbytes') read += Number(value);
      else if (key === 'wbytes') write += Number(value);
    }
  }
  return { read, write };
}

/** Reads the cgroup at `dir`; throws when the cgroup is gone. */
export function readCgroupStats(dir: string, now = Date.now()): Stats {
  const cpu = parseKeyed(readCgroupFile(dir, 'cpu.stat'));
  if (readCgroupFile(dir, 'cgroup.procs') === undefined) throw new Error(`the cgroup ${dir} is gone`);
  const io = parseIoStat(readCgroupFile(dir, 'io.stat'));
  return {
    readAt: now,
    memoryCurrent: numberOf(readCgroupFile(dir, 'memory.current')),
    memoryMax: numberOf(readCgroupFile(dir, 'memory.max')),
    memorySwapCurrent: numberOf(readCgroupFile(dir, 'memory.swap.current')),
    oomKills: parseKeyed(readCgroupFile(dir, 'memory.events')).get('oom_kill') ?? 0,
    cpuUsageUsec: cpu.get('usage_usec') ?? 0,
    cpuUserUsec: cpu.get('user_usec') ?? 0,
    cpuSystemUsec: cpu.get('system_usec') ?? 0,
    cpuThrottledPeriods: cpu.get('nr_throttled') ?? 0,
    cpuThrottledUsec: cpu.get('throttled_usec') ?? 0,
    pidsCurrent: numberOf(readCgroupFile(dir, 'pids.current')),
    pidsMax: numberOf(readCgroupFile(dir, 'pids.max')),
    ioReadBytes: io?.read ?? null,
    ioWriteBytes: io?.write ?? null,
  };
}

// ---- a container's row of `hutch stats` (src/cli/format/stats.ts prints it) -------------------------

/** A container's line of `hutch stats`, with the numbers behind it (--format json). */
export interface StatsRow {
  id: string;
  name: string;
  /** When the reading was taken, in milliseconds since the epoch. */
  readAt: number;
  /** CPU time over wall time since the previous reading, in percent of one CPU. */
  cpuPercent: number;
  /** CPU time over wall time since the container started. */
  avgCpuPercent: number;
  cpuTimeUsec: number;
  memUsage: number | null;
  /** The memory limit; null: none. */
  memLimit: number | null;
  memPercent: number | null;
  pids: number | null;
  pidsLimit: number | null;
  blockRead: number | null;
  blockWrite: number | null;
  oomKills: number;
  /** Throttled periods (the cpu.max quota ran out). */
  cpuThrottled: number;
}

/**
 * One row from a reading and the one before it (or, for the first, the start
 * of the container: an average since then, as podman's first reading is).
 * `hostMemory` stands in for the limit when there is none.
 */
export function statsRow(
  container: { id: string; name: string; startedAt: number },
  now: Stats,
  previous: Stats | undefined,
  hostMemory: number,
): StatsRow {
  const sinceStart = Math.max(now.readAt - container.startedAt, 1) * 1000;
  const avg = (now.cpuUsageUsec / sinceStart) * 100;
  const cpu =
    previous === undefined
      ? avg
      : ((now.cpuUsageUsec - previous.cpuUsageUsec) / Math.max((now.readAt - previous.readAt) * 1000, 1)) * 100;
  const limit = now.memoryMax ?? (now.memoryCurrent === null ? null : hostMemory);
  return {
    id: container.id,
    name: container.name,
    readAt: now.readAt,
    cpuPercent: Math.max(cpu, 0),
    avgCpuPercent: avg,
    cpuTimeUsec: now.cpuUsageUsec,
    memUsage: now.memoryCurrent,
    memLimit: now.memoryMax,
    memPercent: now.memoryCurrent === null || limit === null ? null : (now.memoryCurrent / limit) * 100,
    pids: now.pidsCurrent,
    pidsLimit: now.pidsMax,
    blockRead: now.ioReadBytes,
    blockWrite: now.ioWriteBytes,
    oomKills: now.oomKills,
    cpuThrottled: now.cpuThrottledPeriods,
  };
}
