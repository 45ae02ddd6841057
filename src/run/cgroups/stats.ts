/**
 * A container's resource usage from its cgroup's files (memory.current,
 * memory.max, memory.events, cpu.stat, pids.current, pids.max, io.stat), and
 * the lines `hutch stats` prints from two readings, as podman prints them.
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

// ---- what `hutch stats` prints -------------------------------------------------------------

/** podman's sizes: decimal units, four significant digits (1.831MB, 33.55MB, 0B). */
export function humanBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

function percent(value: number): string {
  return `${value.toFixed(2)}%`;
}

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

function cpuTime(usec: number): string {
  const ms = usec / 1000;
  if (ms < 1000) return `${ms.toFixed(0)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)}s`;
  return `${Math.floor(s / 60)}m${(s % 60).toFixed(0)}s`;
}

const dash = '--';

/** The table rows as podman shows them (the first row is the header). */
export function statsTable(rows: StatsRow[], hostMemory: number): string[][] {
  const table = [
    ['ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET IO', 'BLOCK IO', 'PIDS', 'CPU TIME', 'AVG CPU %'],
  ];
  for (const r of rows) {
    table.push([
      r.id.slice(0, 12),
      r.name,
      percent(r.cpuPercent),
      r.memUsage === null ? dash : `${humanBytes(r.memUsage)} / ${humanBytes(r.memLimit ?? hostMemory)}`,
      r.memPercent === null ? dash : percent(r.memPercent),
      `${dash} / ${dash}`,
      r.blockRead === null ? dash : `${humanBytes(r.blockRead)} / ${humanBytes(r.blockWrite ?? 0)}`,
      r.pids === null ? dash : String(r.pids),
      cpuTime(r.cpuTimeUsec),
      percent(r.avgCpuPercent),
    ]);
  }
  return table;
}

/** `--format json`: podman's keys (strings, as it prints them) and the numbers behind them. */
export function statsJson(row: StatsRow, hostMemory: number): Record<string, unknown> {
  const [, , cpu, mem, memPercent, net, block, pids, time, avg] = statsTable([row], hostMemory)[1] as string[];
  return {
    id: row.id.slice(0, 12),
    name: row.name,
    cpu_percent: cpu,
    mem_usage: mem,
    mem_percent: memPercent,
    net_io: net,
    block_io: block,
    pids,
    cpu_time: time,
    avg_cpu: avg,
    raw: {
      readAt: row.readAt,
      cpuPercent: row.cpuPercent,
      avgCpuPercent: row.avgCpuPercent,
      cpuTimeUsec: row.cpuTimeUsec,
      memUsage: row.memUsage,
      memLimit: row.memLimit,
      pids: row.pids,
      pidsLimit: row.pidsLimit,
      blockRead: row.blockRead,
      blockWrite: row.blockWrite,
      oomKills: row.oomKills,
      cpuThrottled: row.cpuThrottled,
    },
  };
}
