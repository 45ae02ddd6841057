// `hutch stats`: the table and JSON podman prints for each reading.
import type { StatsRow } from '../../run/cgroups/stats.js';

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
