// hutch stats: readings from the cgroup files (a fake cgroup directory) and the rows podman would print.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { humanBytes, statsJson, statsTable } from '../../src/cli/format/stats.js';
import { parseIoStat, readCgroupStats, statsRow, type Stats } from '../../src/run/cgroups/stats.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fakeCgroup(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-cgroup-stats-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const reading: Stats = {
  readAt: 10_000,
  memoryCurrent: 1_048_576,
  memoryMax: 33_554_432,
  memorySwapCurrent: 0,
  oomKills: 0,
  cpuUsageUsec: 2_000_000,
  cpuUserUsec: 1_500_000,
  cpuSystemUsec: 500_000,
  cpuThrottledPeriods: 3,
  cpuThrottledUsec: 70_000,
  pidsCurrent: 4,
  pidsMax: 20,
  ioReadBytes: 4096,
  ioWriteBytes: 0,
};

describe('cgroup statistics', () => {
  it('reads every file it knows, and null for controllers the cgroup lacks', () => {
    const dir = fakeCgroup({
      'cgroup.procs': '42\n',
      'memory.current': '1048576\n',
      'memory.max': 'max\n',
      'memory.events': 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n',
      'cpu.stat':
        'usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 3\nthrottled_usec 70000\n',
      'pids.current': '4\n',
      'pids.max': '20\n',
      'io.stat': '8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n254:0 rbytes=100 wbytes=0 rios=1 wios=0\n',
    });
    expect(readCgroupStats(dir, 10_000)).toEqual({
      ...reading,
      memoryMax: null,
      memorySwapCurrent: null,
      oomKills: 1,
      ioReadBytes: 4196,
      ioWriteBytes: 512,
    });
    const bare = readCgroupStats(fakeCgroup({ 'cgroup.procs': '', 'cpu.stat': 'usage_usec 5\n' }), 1);
    expect(bare).toMatchObject({
      memoryCurrent: null,
      pidsCurrent: null,
      ioReadBytes: null,
      cpuUsageUsec: 5,
      oomKills: 0,
    });
    expect(() => readCgroupStats(join(tmpdir(), 'hutch-no-such-cgroup'))).toThrow(/is gone/);
  });

  it('parses io.stat and prints sizes as podman does', () => {
    expect(parseIoStat('')).toEqual({ read: 0, write: 0 });
    expect(parseIoStat(undefined)).toBeNull();
    expect([0, 999, 1000, 1_048_576, 33_554_432, 1_500_000_000].map(humanBytes)).toEqual([
      '0B',
      '999B',
      '1kB',
      '1.049MB',
      '33.55MB',
      '1.5GB',
    ]);
  });

  it('takes CPU % over the interval since the previous reading, and since the start for the first', () => {
    const container = { id: 'a'.repeat(64), name: 'web', startedAt: 6_000 };
    const first = statsRow(container, reading, undefined, 8e9);
    // 2 s of CPU in the 4 s since the start.
    expect(first.cpuPercent).toBeCloseTo(50);
    expect(first.avgCpuPercent).toBeCloseTo(50);
    expect(first.memPercent).toBeCloseTo(3.125);
    const later = { ...reading, readAt: 12_000, cpuUsageUsec: 3_800_000 };
    const second = statsRow(container, later, reading, 8e9);
    expect(second.cpuPercent).toBeCloseTo(90);
    expect(second.avgCpuPercent).toBeCloseTo(63.33, 1);
    // No limit: the share of the host's memory, as podman shows it.
    expect(statsRow(container, { ...reading, memoryMax: null }, undefined, 8_388_608).memPercent).toBeCloseTo(12.5);
  });

  it("prints podman's columns, and its JSON keys with the numbers beside them", () => {
    const row = statsRow({ id: 'b'.repeat(64), name: 'db', startedAt: 6_000 }, reading, undefined, 8e9);
    expect(statsTable([row], 8e9)).toEqual([
      ['ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET IO', 'BLOCK IO', 'PIDS', 'CPU TIME', 'AVG CPU %'],
      ['bbbbbbbbbbbb', 'db', '50.00%', '1.049MB / 33.55MB', '3.13%', '-- / --', '4.096kB / 0B', '4', '2.00s', '50.00%'],
    ]);
    expect(statsJson(row, 8e9)).toMatchObject({
      id: 'bbbbbbbbbbbb',
      name: 'db',
      cpu_percent: '50.00%',
      mem_usage: '1.049MB / 33.55MB',
      pids: '4',
      raw: {
        memUsage: 1_048_576,
        memLimit: 33_554_432,
        pids: 4,
        pidsLimit: 20,
        cpuTimeUsec: 2_000_000,
        cpuThrottled: 3,
      },
    });
  });
});
