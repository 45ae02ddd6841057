/**
 * The disk reserve (src/image/store/reserve.ts): sizes, the default, where the
 * reserve came from, and the guard that stops a writer before free space
 * falls below it. The statfs(2) here is a fake whose free space shrinks by
 * what is really on disk under the test's directory, so the layer bomb below
 * (40 MiB of zeros in a 40 KiB gzip) is stopped by the same code as in a pull.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/image/digest.js';
import { LayerStore, unpackLayer } from '../../src/image/store/layers.js';
import {
  CHECK_INTERVAL,
  computeReserve,
  describeReserve,
  DiskReserveError,
  formatSize,
  parseReserve,
  reserveFor,
  SpaceGuard,
} from '../../src/image/store/reserve.js';
import type { FsStats } from '../../src/native.js';
import { TarBuilder, ustarHeader } from '../helpers/tar.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('HUTCH_DISK_RESERVE sizes (parseBytes, as --memory reads them)', () => {
  it.each([
    ['0', 0],
    ['4096', 4096],
    ['512m', 512 * MiB],
    ['512M', 512 * MiB],
    ['1g', GiB],
    ['1gb', GiB],
    ['1GiB', GiB],
    ['1.5g', 1.5 * GiB],
    ['10k', 10240],
    ['2 t', 2 * 2 ** 40],
    [' 64m ', 64 * MiB],
  ])('%j is %d bytes', (text, bytes) => {
    expect(parseReserve(text)).toEqual({ kind: 'bytes', bytes });
  });

  it.each(['', 'm', '-1g', '1x', '1gg', 'one', '1e3', '0x10', '99999999999p'])('refuses %j', (text) => {
    expect(() => parseReserve(text)).toThrow(
      `invalid HUTCH_DISK_RESERVE ${JSON.stringify(text)}: expected a size (512m, 1g), a percentage (5%) or 0`,
    );
  });
});

describe('parseReserve and computeReserve', () => {
  it('takes a size or a percentage of the file system', () => {
    expect(parseReserve('512m')).toEqual({ kind: 'bytes', bytes: 512 * MiB });
    expect(parseReserve('0')).toEqual({ kind: 'bytes', bytes: 0 });
    expect(parseReserve('5%')).toEqual({ kind: 'percent', percent: 5 });
    expect(parseReserve('0.5 %')).toEqual({ kind: 'percent', percent: 0.5 });
    expect(computeReserve({ kind: 'percent', percent: 10 }, 50 * GiB)).toBe(5 * GiB);
    expect(computeReserve({ kind: 'bytes', bytes: 123 }, 50 * GiB)).toBe(123);
  });

  it('refuses what is neither, with the hint', () => {
    expect(() => parseReserve('lots')).toThrow(
      'invalid HUTCH_DISK_RESERVE "lots": expected a size (512m, 1g), a percentage (5%) or 0',
    );
    expect(() => parseReserve('100%')).toThrow('a percentage must be below 100');
    try {
      parseReserve('lots');
    } catch (error) {
      expect((error as DiskReserveError).hint).toMatch(/HUTCH_DISK_RESERVE to a size such as 512m/);
      expect((error as DiskReserveError).exitCode).toBe(125);
    }
  });

  it('defaults to min(5% of the file system, 1 GiB)', () => {
    expect(computeReserve(undefined, 10 * GiB)).toBe(Math.floor(0.5 * GiB));
    expect(computeReserve(undefined, 20 * GiB)).toBe(GiB);
    expect(computeReserve(undefined, 250 * GiB)).toBe(GiB);
  });

  it('says where the reserve in force came from', () => {
    const fromDefault = reserveFor(250 * GiB, {});
    expect(fromDefault).toEqual({ bytes: GiB, source: 'default', origin: 'default: min(5%, 1 GiB)' });
    expect(describeReserve(fromDefault)).toBe('1 GiB (default: min(5%, 1 GiB))');
    const fromEnv = reserveFor(250 * GiB, { HUTCH_DISK_RESERVE: '512m' });
    expect(fromEnv).toEqual({ bytes: 512 * MiB, source: 'environment', origin: 'HUTCH_DISK_RESERVE=512m' });
    expect(describeReserve(fromEnv)).toBe('512 MiB (HUTCH_DISK_RESERVE=512m)');
    expect(describeReserve(reserveFor(250 * GiB, { HUTCH_DISK_RESERVE: '0' }))).toBe('off (HUTCH_DISK_RESERVE=0)');
    expect(reserveFor(250 * GiB, { HUTCH_DISK_RESERVE: '' }).source).toBe('default');
  });

  it('formats sizes in binary units', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1023)).toBe('1023 B');
    expect(formatSize(GiB)).toBe('1 GiB');
    expect(formatSize(512 * MiB)).toBe('512 MiB');
    expect(formatSize(97.34 * MiB)).toBe('97.3 MiB');
    expect(formatSize(1.5 * GiB)).toBe('1.5 GiB');
    expect(formatSize(GiB - 4096)).toBe('1 GiB');
    expect(formatSize(1023.9 * MiB)).toBe('1023.9 MiB');
  });
});

// ---------------------------------------------------------------------------
// The guard, with a file system of 10 GiB whose free space is `free` minus what
// is on disk under `base`.

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hutch-reserve-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function usedUnder(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    total += st.isDirectory() ? usedUnder(path) : st.size;
  }
  return total;
}

/** measure false: a constant free space, for tests that count statfs calls only. */
function fakeFs(free: number, measure = true): { statfs: (path: string) => FsStats; calls: number; lowest: number } {
  const fs = {
    calls: 0,
    lowest: Infinity,
    statfs: (): FsStats => {
      fs.calls++;
      const available = free - (measure ? usedUnder(base) : 0);
      fs.lowest = Math.min(fs.lowest, available);
      return {
        type: 0xef53,
        flags: 0,
        blockSize: 4096,
        blocks: (10 * GiB) / 4096,
        blocksFree: Math.floor(available / 4096),
        blocksAvailable: Math.floor(available / 4096),
      };
    },
  };
  return fs;
}

describe('SpaceGuard', () => {
  it('require() refuses what does not fit above the reserve, naming it, the space left and the reserve', () => {
    const fs = fakeFs(300 * MiB);
    const guard = new SpaceGuard(base, { HUTCH_DISK_RESERVE: '100m' }, fs.statfs);
    guard.require(200 * MiB, 'layer sha256:aa');
    const error = (() => {
      try {
        guard.require(201 * MiB, 'layer sha256:aa');
      } catch (e) {
        return e as DiskReserveError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(DiskReserveError);
    expect(error?.message).toBe(
      `not enough space for layer sha256:aa (201 MiB): 300 MiB left on ${base}, 200 MiB above the reserve of 100 MiB`,
    );
    expect(error?.hint).toBe(
      `free space on the file system of ${base} (hutch image prune, hutch rmi), or lower HUTCH_DISK_RESERVE ` +
        '(now 100m); HUTCH_DISK_RESERVE=0 turns the check off',
    );
    expect(error?.exitCode).toBe(125);
  });

  it('a meter looks at the free space once per CHECK_INTERVAL bytes, not per write', () => {
    const fs = fakeFs(10 * GiB, false);
    const guard = new SpaceGuard(base, {}, fs.statfs);
    const meter = guard.meter('unpacking layer sha256:bb');
    const before = fs.calls;
    for (let i = 0; i < 10_000; i++) meter.use(4096);
    // 40 MB in 4 KiB writes: one statfs per 8 MiB.
    expect(fs.calls - before).toBe(Math.floor((10_000 * 4096) / CHECK_INTERVAL));
  });

  it('a writer that would start below the reserve is refused before it writes; the hint of the default', () => {
    // 10 GiB: the default reserve is 512 MiB; 4 MiB above it is less than the CHECK_INTERVAL a writer needs.
    const fs = fakeFs(516 * MiB);
    const guard = new SpaceGuard(base, {}, fs.statfs);
    let error: DiskReserveError | undefined;
    try {
      guard.meter('unpacking layer sha256:cc');
    } catch (e) {
      error = e as DiskReserveError;
    }
    expect(error?.message).toBe(
      `not enough space for unpacking layer sha256:cc: 516 MiB left on ${base}, 4 MiB above the reserve of 512 MiB`,
    );
    expect(error?.hint).toBe(
      `free space on the file system of ${base} (hutch image prune, hutch rmi), or lower the reserve ` +
        '(512 MiB here, the default: min(5%, 1 GiB)) with HUTCH_DISK_RESERVE=SIZE, e.g. HUTCH_DISK_RESERVE=256m; ' +
        'HUTCH_DISK_RESERVE=0 turns the check off',
    );
  });

  it('a forecast counts what will be written later against the free space now', () => {
    const fs = fakeFs(300 * MiB, false);
    const guard = new SpaceGuard(base, { HUTCH_DISK_RESERVE: '100m' }, fs.statfs);
    const forecast = guard.forecast('the layer of rootfs.tar');
    for (let i = 0; i < 200; i++) forecast.use(MiB);
    expect(() => {
      for (let i = 0; i < 16; i++) forecast.use(MiB);
    }).toThrow(
      `stopped before unpacking the layer of rootfs.tar: it is more than 208 MiB, and 300 MiB left on ${base}, ` +
        '200 MiB above the reserve of 100 MiB',
    );
  });

  it('with HUTCH_DISK_RESERVE=0 nothing is checked', () => {
    const fs = fakeFs(0);
    const guard = new SpaceGuard(base, { HUTCH_DISK_RESERVE: '0' }, fs.statfs);
    const meter = guard.meter('unpacking');
    meter.use(100 * GiB);
    guard.require(100 * GiB, 'a layer');
    expect(fs.calls).toBe(1); // the one that read the file system's size
  });

  it('stops a 40 MiB gzip bomb before free space goes below the reserve, and leaves nothing', async () => {
    // One file of 40 MiB of zeros: about 40 KiB gzipped.
    const size = 40 * MiB;
    const tar = Buffer.concat([
      ustarHeader({ name: 'zeros', typeflag: '0', size, uid: process.getuid?.(), gid: process.getgid?.() }),
      Buffer.alloc(size),
      Buffer.alloc(1024),
    ]);
    const gz = gzipSync(tar);
    expect(gz.length).toBeLessThan(100 * 1024);
    const diffId = digestOf(tar);
    for (const d of ['layers', 'tmp', 'locks']) mkdirSync(join(base, d));
    const layers = new LayerStore(join(base, 'layers'), join(base, 'tmp'), join(base, 'locks'));
    const reserve = 100 * MiB;
    const fs = fakeFs(reserve + 20 * MiB);
    const guard = new SpaceGuard(base, { HUTCH_DISK_RESERVE: '100m' }, fs.statfs);
    const started = Date.now();
    const error = await unpackLayer({ layers }, diffId, Readable.from([gz]), 'gzip', {
      userXattrs: false,
      space: guard,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskReserveError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^stopped unpacking layer ${diffId} after (8|16)(\\.\\d)? MiB: 1\\d\\d(\\.\\d)? MiB left on ${base}, ` +
          `\\d+(\\.\\d)? MiB above the reserve of 100 MiB$`,
      ),
    );
    expect(fs.lowest).toBeGreaterThanOrEqual(reserve);
    expect(readdirSync(join(base, 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
    // With room, the same layer unpacks.
    const roomy = new SpaceGuard(base, { HUTCH_DISK_RESERVE: '100m' }, fakeFs(reserve + 60 * MiB).statfs);
    const path = await unpackLayer({ layers }, diffId, Readable.from([gz]), 'gzip', {
      userXattrs: false,
      space: roomy,
    });
    expect(lstatSync(join(path, 'zeros')).size).toBe(size);
  });

  it('counts every entry, so a layer of many empty files is checked as it goes', async () => {
    const tar = new TarBuilder();
    for (let i = 0; i < 2500; i++) tar.file(`f${i}`, '', { uid: process.getuid?.(), gid: process.getgid?.() });
    const body = await tar.toBuffer();
    for (const d of ['layers', 'tmp', 'locks']) mkdirSync(join(base, d));
    const layers = new LayerStore(join(base, 'layers'), join(base, 'tmp'), join(base, 'locks'));
    const fs = fakeFs(10 * GiB, false);
    const guard = new SpaceGuard(base, {}, fs.statfs);
    await unpackLayer({ layers }, digestOf(body), Readable.from([body]), 'none', { userXattrs: false, space: guard });
    // The file system's size, the meter's first look, then one per CHECK_INTERVAL of entries (4 KiB each).
    expect(fs.calls).toBe(2 + Math.floor((2500 * 4096) / CHECK_INTERVAL));
  });
});
