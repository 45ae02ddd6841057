// Leftovers of dead commands, without privileges: what reapLeftovers takes
// from tmp/ and what it leaves, moveIntoTemp's flock, the hint of a leftover
// that stays, the mount points found below a directory, and the container
// store's sweep of removals and creates cut short. Mounts themselves are
// detached for real in test/integration/faults.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { abandonedEntries, leftoverError, reapLeftovers } from '../../src/image/store/leftovers.js';
import { claimIfAbandoned, createTempDir, createTempFile, moveIntoTemp, tryLock } from '../../src/fs/lock.js';
import { ContainerStore } from '../../src/run/container/store.js';
import { mountsUnder } from '../../src/host/detach-mounts.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-leftovers-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A mountinfo line (proc(5)) for mount point `point`. */
const mountLine = (id: number, point: string) =>
  `${id} 1 0:${id} / ${point.replace(/ /g, '\\040')} rw,relatime - overlay overlay rw,userxattr`;

describe('reapLeftovers', () => {
  it('removes what no live process holds and keeps what one does', () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const live = createTempDir(tmp, 'build-');
    const liveFile = createTempFile(tmp, 'blob-');
    const dead = createTempDir(tmp, 'build-');
    mkdirSync(join(dead.path, 'upper', 'deep'), { recursive: true });
    writeFileSync(join(dead.path, 'upper', 'deep', 'file'), 'x');
    dead.release();
    const deadFile = createTempFile(tmp, 'blob-');
    deadFile.release();
    // An entry nobody ever locked (the probe directories of old versions): a leftover too.
    mkdirSync(join(tmp, 'overlay-old'));

    expect(abandonedEntries(tmp).sort()).toEqual([dead.path, deadFile.path, join(tmp, 'overlay-old')].sort());
    const report = reapLeftovers(tmp);
    expect(report.failed).toEqual([]);
    expect(report.removed.sort()).toEqual([dead.path, deadFile.path, join(tmp, 'overlay-old')].sort());
    expect(readdirSync(tmp).sort()).toEqual([live.path, liveFile.path].map((p) => p.slice(tmp.length + 1)).sort());
    live.release();
    liveFile.release();
    expect(reapLeftovers(tmp).removed).toHaveLength(2);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('never throws: a missing tmp/ reaps nothing', () => {
    expect(reapLeftovers(join(dir, 'nothing'))).toEqual({ removed: [], failed: [] });
  });
});

describe('moveIntoTemp', () => {
  it('moves a tree into tmp/ held by this process until released', () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const layer = join(dir, 'layer');
    mkdirSync(join(layer, 'diff'), { recursive: true });
    const moved = moveIntoTemp(layer, tmp, 'gc-');
    expect(moved).toBeDefined();
    expect(existsSync(layer)).toBe(false);
    expect(moved?.path.startsWith(join(tmp, 'gc-'))).toBe(true);
    expect(claimIfAbandoned(moved?.path as string)).toBeUndefined();
    expect(reapLeftovers(tmp).removed).toEqual([]);
    moved?.release();
    expect(reapLeftovers(tmp).removed).toEqual([moved?.path]);
  });

  it('returns undefined for a path that is gone', () => {
    expect(moveIntoTemp(join(dir, 'gone'), dir, 'gc-')).toBeUndefined();
  });
});

describe('mountsUnder and the hint of a leftover that stays', () => {
  const text = [
    mountLine(20, '/'),
    mountLine(30, '/data/hutch/tmp/build-a/merged'),
    mountLine(31, '/data/hutch/tmp/build-a/merged'),
    mountLine(32, '/data/hutch/tmp/build-a/merged/proc'),
    mountLine(33, '/data/hutch/tmp/build-ab/merged'),
    mountLine(34, '/data/hutch/tmp/with space/merged'),
  ].join('\n');

  it('lists the mounts at or below a directory, deepest first, a stacked one twice', () => {
    expect(mountsUnder('/data/hutch/tmp/build-a', text)).toEqual([
      '/data/hutch/tmp/build-a/merged/proc',
      '/data/hutch/tmp/build-a/merged',
      '/data/hutch/tmp/build-a/merged',
    ]);
    expect(mountsUnder('/data/hutch/tmp/with space', text)).toEqual(['/data/hutch/tmp/with space/merged']);
    expect(mountsUnder('/data/hutch/tmp/build-c', text)).toEqual([]);
  });

  it('names the mount to take down, or the directory to remove, from the session', () => {
    const mounted = leftoverError('/data/hutch/tmp/build-a', new Error('EBUSY: resource busy'), text);
    expect(mounted.message).toBe('remove /data/hutch/tmp/build-a: EBUSY: resource busy');
    expect(mounted.hint).toBe(
      "/data/hutch/tmp/build-a/merged is still mounted: unmount it in hutch's session (hutch unshare umount -l /data/hutch/tmp/build-a/merged), then run hutch system check --repair again",
    );
    const plain = leftoverError('/data/hutch/tmp/build-c', new Error('EACCES: permission denied'), text);
    expect(plain.hint).toBe(
      "remove it from hutch's session (hutch unshare rm -rf /data/hutch/tmp/build-c), then run hutch system check again",
    );
  });
});

describe('ContainerStore sweep', () => {
  const ID = (n: number) => String(n).repeat(64);

  it('removes removals and creates cut short, and keeps a create in progress', async () => {
    const storage = join(dir, 'storage');
    const runtime = join(dir, 'runtime');
    const first = new ContainerStore(storage, runtime);
    // A removal cut short: renamed and no longer held.
    const removed = join(first.root, '.removed-abc');
    mkdirSync(join(removed, 'upper'), { recursive: true });
    // A create cut short: no config.json, nobody holds lockAll.
    mkdirSync(join(first.root, ID(1), 'upper'), { recursive: true });
    // A whole container stays.
    mkdirSync(join(first.root, ID(2)), { recursive: true });
    writeFileSync(join(first.root, ID(2), 'config.json'), '{}');

    const second = new ContainerStore(storage, runtime);
    expect(readdirSync(second.root).sort()).toEqual(['.lock', ID(2)]);

    // A create in progress holds lockAll: its directory is left alone.
    mkdirSync(join(first.root, ID(3), 'upper'), { recursive: true });
    const creating = await first.lockAll();
    new ContainerStore(storage, runtime);
    expect(existsSync(join(first.root, ID(3)))).toBe(true);
    creating();
    // So is a removal in progress: it holds the container's lock.
    const removing = tryLock(join(first.root, ID(3), '.lock'));
    new ContainerStore(storage, runtime);
    expect(existsSync(join(first.root, ID(3)))).toBe(true);
    removing?.();
    new ContainerStore(storage, runtime);
    expect(existsSync(join(first.root, ID(3)))).toBe(false);
  });
});
