// The limit flags as docker and podman read them, and the cgroup v2 files they become.
import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  blkioToIoWeight,
  DEFAULT_PIDS_LIMIT,
  hasLimits,
  hostConfigResources,
  limitsFromFlags,
  limitWrites,
  mergeLimits,
  neededControllers,
  parseBytes,
  sharesToWeight,
  withDefaultLimits,
  type Limits,
  type WriteContext,
} from '../../src/run/cgroups/limits.js';

const MiB = 1024 * 1024;

function context(files: string[] = ['memory.swap.max', 'io.weight']): WriteContext {
  return {
    hasFile: (name) => files.includes(name),
    deviceNumber: (path) => {
      if (path === '/dev/sda') return '8:0';
      throw new HutchError(`--device-read-bps ${path}: not a block device`);
    },
  };
}

function writes(limits: Limits, files?: string[]): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const w of limitWrites(limits, context(files))) (result[w.file] ??= []).push(w.value);
  return result;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HutchError);
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('limit flags', () => {
  it("reads sizes as docker's RAMInBytes: binary units, any case, optional i and b", () => {
    expect(parseBytes('32m', '--memory')).toBe(32 * MiB);
    expect(parseBytes('32MB', '--memory')).toBe(32 * MiB);
    expect(parseBytes('32MiB', '--memory')).toBe(32 * MiB);
    expect(parseBytes('1.5g', '--memory')).toBe(1.5 * 1024 * MiB);
    expect(parseBytes('4096', '--memory')).toBe(4096);
    expect(parseBytes('4096b', '--memory')).toBe(4096);
    expect(parseBytes('1k', '--memory')).toBe(1024);
    for (const bad of ['', 'm', '-5m', '12x', '1..5m', '32 m b x']) {
      expect(refusal(() => parseBytes(bad, '--memory'))).toBe(`invalid --memory ${JSON.stringify(bad)}`);
    }
  });

  it('turns every flag into a typed limit', () => {
    expect(
      limitsFromFlags({
        memory: '64m',
        memorySwap: '128m',
        memoryReservation: '32m',
        cpus: '0.5',
        cpuShares: '512',
        cpusetCpus: '0-1,3',
        pidsLimit: '20',
        blkioWeight: '300',
        deviceReadBps: ['/dev/sda:1mb', '/dev/sdb:512k'],
      }),
    ).toEqual({
      memory: 64 * MiB,
      memorySwap: 128 * MiB,
      memoryReservation: 32 * MiB,
      cpus: 0.5,
      cpuWeight: 59,
      cpusetCpus: '0-1,3',
      pidsLimit: 20,
      blkioWeight: 300,
      deviceReadBps: [
        { device: '/dev/sda', rate: MiB },
        { device: '/dev/sdb', rate: 512 * 1024 },
      ],
    });
    expect(limitsFromFlags({})).toEqual({});
    expect(limitsFromFlags({ cpuWeight: '250' })).toEqual({ cpuWeight: 250 });
    // podman: 0 and -1 mean no limit; docker: --cpu-shares 0 and --blkio-weight 0 mean unset.
    expect(limitsFromFlags({ pidsLimit: '0' })).toEqual({ pidsLimit: -1 });
    expect(limitsFromFlags({ pidsLimit: '-1', cpuShares: '0', blkioWeight: '0' })).toEqual({ pidsLimit: -1 });
  });

  it('refuses bad values with the flag named, and the combinations docker refuses', () => {
    expect(refusal(() => limitsFromFlags({ memory: '4m' }))).toBe(
      'invalid --memory 4m: the minimum memory limit is 6MB',
    );
    expect(refusal(() => limitsFromFlags({ memorySwap: '1g' }))).toBe('--memory-swap needs --memory');
    expect(refusal(() => limitsFromFlags({ memory: '1g', memorySwap: '512m' }))).toBe(
      '--memory-swap must not be less than --memory',
    );
    expect(refusal(() => limitsFromFlags({ memory: '64m', memoryReservation: '128m' }))).toBe(
      '--memory-reservation must not be more than --memory',
    );
    expect(refusal(() => limitsFromFlags({ cpus: 'half' }))).toBe('invalid --cpus "half"');
    expect(refusal(() => limitsFromFlags({ cpus: '0.001' }))).toBe('invalid --cpus 0.001: the minimum is 0.01');
    expect(refusal(() => limitsFromFlags({ cpuShares: '1' }))).toBe('invalid --cpu-shares 1: out of range');
    expect(refusal(() => limitsFromFlags({ cpuWeight: '10001' }))).toBe('invalid --cpu-weight 10001: out of range');
    expect(refusal(() => limitsFromFlags({ cpuShares: '512', cpuWeight: '50' }))).toBe(
      '--cpu-shares and --cpu-weight set the same thing',
    );
    expect(refusal(() => limitsFromFlags({ cpusetCpus: '3-1' }))).toBe('invalid --cpuset-cpus "3-1"');
    expect(refusal(() => limitsFromFlags({ cpusetCpus: 'all' }))).toBe('invalid --cpuset-cpus "all"');
    expect(refusal(() => limitsFromFlags({ pidsLimit: 'many' }))).toBe('invalid --pids-limit "many"');
    expect(refusal(() => limitsFromFlags({ pidsLimit: '-2' }))).toBe('invalid --pids-limit -2: out of range');
    expect(refusal(() => limitsFromFlags({ blkioWeight: '5' }))).toBe('invalid --blkio-weight 5: out of range');
    expect(refusal(() => limitsFromFlags({ deviceReadBps: ['sda:1mb'] }))).toBe('invalid --device-read-bps "sda:1mb"');
    expect(refusal(() => limitsFromFlags({ deviceReadBps: ['/dev/sda:fast'] }))).toBe(
      'invalid --device-read-bps "fast"',
    );
  });

  it('converts cpu shares to cpu.weight as crun does (2, 1024, 262144 onto 1, 100, 10000)', () => {
    expect([0, 1, 2, 3, 512, 1024, 2048, 262_143, 262_144, 500_000].map(sharesToWeight)).toEqual([
      0, 1, 1, 2, 59, 100, 174, 10_000, 10_000, 10_000,
    ]);
    // runc's io.weight for --blkio-weight 750 (its test expects "default 7475").
    expect([10, 500, 750, 1000].map(blkioToIoWeight)).toEqual([1, 4950, 7475, 10_000]);
  });

  it('knows which limits restrict something and which controllers they need', () => {
    expect(hasLimits({})).toBe(false);
    expect(hasLimits({ pidsLimit: -1, memory: -1, cpus: 0, deviceReadBps: [] })).toBe(false);
    expect(hasLimits({ pidsLimit: 20 })).toBe(true);
    expect(hasLimits({ cpusetCpus: '0' })).toBe(true);
    expect(hasLimits({ deviceReadBps: [{ device: '/dev/sda', rate: 1 }] })).toBe(true);
    expect(
      Object.fromEntries(neededControllers({ memory: 1, memorySwap: 2, cpus: 1, pidsLimit: 3, blkioWeight: 100 })),
    ).toEqual({
      memory: ['--memory', '--memory-swap'],
      cpu: ['--cpus'],
      pids: ['--pids-limit'],
      io: ['--blkio-weight'],
    });
  });

  it('merges an update over the limits in force, recomputing the default swap for a new memory limit', () => {
    expect(mergeLimits({ memory: 64 * MiB, memorySwap: 128 * MiB, cpus: 1 }, { cpus: 0.5 })).toEqual({
      memory: 64 * MiB,
      memorySwap: 128 * MiB,
      cpus: 0.5,
    });
    expect(mergeLimits({ memory: 64 * MiB, memorySwap: 128 * MiB }, { memory: 32 * MiB })).toEqual({
      memory: 32 * MiB,
    });
    expect(mergeLimits({ pidsLimit: 10 }, { pidsLimit: -1 })).toEqual({ pidsLimit: -1 });
  });
});

describe("podman's default pids limit", () => {
  it('is 2048 where the pids controller is delegated, unless --pids-limit says otherwise', () => {
    expect(DEFAULT_PIDS_LIMIT).toBe(2048);
    expect(withDefaultLimits({}, true)).toEqual({ pidsLimit: 2048 });
    expect(withDefaultLimits({ memory: 64 * MiB }, true)).toEqual({ memory: 64 * MiB, pidsLimit: 2048 });
    expect(writes(withDefaultLimits({}, true))).toEqual({ 'pids.max': ['2048'] });
    // Given: kept. -1 and 0 lift it (podman), so nothing is written and no cgroup is needed for it.
    expect(withDefaultLimits(limitsFromFlags({ pidsLimit: '100' }), true)).toEqual({ pidsLimit: 100 });
    for (const none of ['-1', '0']) {
      const limits = withDefaultLimits(limitsFromFlags({ pidsLimit: none }), true);
      expect(limits).toEqual({ pidsLimit: -1 });
      expect(hasLimits(limits)).toBe(false);
      expect(writes(limits)).toEqual({ 'pids.max': ['max'] });
    }
  });

  it('is not invented where no cgroup could hold it (an explicit --pids-limit is refused there instead)', () => {
    expect(withDefaultLimits({}, false)).toEqual({});
    expect(hasLimits(withDefaultLimits({}, false))).toBe(false);
    expect(withDefaultLimits({ pidsLimit: 20 }, false)).toEqual({ pidsLimit: 20 });
  });

  it('shows in inspect as podman shows its default', () => {
    expect(hostConfigResources(withDefaultLimits({}, true))).toMatchObject({ PidsLimit: 2048 });
    expect(hostConfigResources(withDefaultLimits({ pidsLimit: -1 }, true))).toMatchObject({ PidsLimit: 0 });
  });
});

describe('limits as cgroup v2 files', () => {
  it('writes memory.max and, as docker defaults it, as much swap again', () => {
    expect(writes({ memory: 32 * MiB })).toEqual({ 'memory.max': ['33554432'], 'memory.swap.max': ['33554432'] });
    expect(writes({ memory: 32 * MiB, memorySwap: 32 * MiB })).toEqual({
      'memory.max': ['33554432'],
      'memory.swap.max': ['0'],
    });
    expect(writes({ memory: 32 * MiB, memorySwap: -1 })).toEqual({
      'memory.max': ['33554432'],
      'memory.swap.max': ['max'],
    });
    expect(writes({ memory: -1 })).toEqual({ 'memory.max': ['max'], 'memory.swap.max': ['max'] });
    expect(writes({ memoryReservation: 16 * MiB })).toEqual({ 'memory.low': ['16777216'] });
  });

  it('skips the default swap without swap accounting, and refuses an explicit one', () => {
    expect(writes({ memory: 32 * MiB }, [])).toEqual({ 'memory.max': ['33554432'] });
    expect(refusal(() => writes({ memory: 32 * MiB, memorySwap: 64 * MiB }, []))).toBe(
      '--memory-swap cannot be enforced: this kernel does not account swap in cgroups',
    );
  });

  it('writes cpu.max as a quota per 100 ms period, cpu.weight, cpuset.cpus and pids.max', () => {
    expect(writes({ cpus: 0.5, cpuWeight: 59, cpusetCpus: '0-1', pidsLimit: 20 })).toEqual({
      'cpu.max': ['50000 100000'],
      'cpu.weight': ['59'],
      'cpuset.cpus': ['0-1'],
      'pids.max': ['20'],
    });
    expect(writes({ cpus: 1.5 })).toEqual({ 'cpu.max': ['150000 100000'] });
    expect(writes({ cpus: 0, pidsLimit: -1 })).toEqual({ 'cpu.max': ['max 100000'], 'pids.max': ['max'] });
  });

  it("writes the block I/O weight to BFQ's file where there is one, else io.weight's scale, else refuses", () => {
    expect(writes({ blkioWeight: 750 }, ['io.bfq.weight', 'io.weight'])).toEqual({ 'io.bfq.weight': ['default 750'] });
    expect(writes({ blkioWeight: 750 }, ['io.weight'])).toEqual({ 'io.weight': ['default 7475'] });
    expect(refusal(() => writes({ blkioWeight: 750 }, []))).toBe(
      '--blkio-weight cannot be enforced: this kernel has neither io.bfq.weight nor io.weight',
    );
  });

  it('writes one io.max line per device, by device number', () => {
    expect(writes({ deviceReadBps: [{ device: '/dev/sda', rate: MiB }] })).toEqual({ 'io.max': ['8:0 rbps=1048576'] });
    expect(refusal(() => writes({ deviceReadBps: [{ device: '/dev/null', rate: 1 }] }))).toBe(
      '--device-read-bps /dev/null: not a block device',
    );
  });

  it('names the flag behind each write', () => {
    const flags = limitWrites({ memory: 32 * MiB, memorySwap: 64 * MiB, pidsLimit: 5 }, context()).map((w) => [
      w.file,
      w.flag,
    ]);
    expect(flags).toEqual([
      ['memory.max', '--memory'],
      ['memory.swap.max', '--memory-swap'],
      ['pids.max', '--pids-limit'],
    ]);
  });

  it("shows the limits in inspect's HostConfig with docker's names and units", () => {
    expect(hostConfigResources({})).toMatchObject({
      Memory: 0,
      MemorySwap: 0,
      NanoCpus: 0,
      PidsLimit: 0,
      CpusetCpus: '',
    });
    expect(
      hostConfigResources({
        memory: 32 * MiB,
        cpus: 0.5,
        pidsLimit: 20,
        cpusetCpus: '0-1',
        deviceReadBps: [{ device: '/dev/sda', rate: MiB }],
      }),
    ).toMatchObject({
      Memory: 32 * MiB,
      MemorySwap: 64 * MiB,
      NanoCpus: 500_000_000,
      CpuPeriod: 100_000,
      CpuQuota: 50_000,
      PidsLimit: 20,
      CpusetCpus: '0-1',
      BlkioDeviceReadBps: [{ Path: '/dev/sda', Rate: MiB }],
    });
    expect(hostConfigResources({ memory: 32 * MiB, memorySwap: -1, pidsLimit: -1 })).toMatchObject({
      MemorySwap: -1,
      PidsLimit: 0,
    });
  });
});
