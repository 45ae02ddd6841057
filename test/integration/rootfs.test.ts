/**
 * The rootfs drivers for real, one conformance check run over each: inside the
 * session, as the unprivileged user. A base layer comes from `hutch import`, a
 * second (with a whiteout and an opaque directory) is unpacked with the store
 * API by test/fixtures/fs-runner.ts, bundled with esbuild and run with
 * `hutch unshare node BUNDLE …`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { requires } from '../helpers/requires.js';
import { TarBuilder } from '../helpers/tar.js';
import { runnerBundle } from '../helpers/bundle.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface DriverResult {
  mountedWhileUp: boolean;
  merged: Record<string, string>;
  after: Record<string, string>;
  upper: Record<string, string>;
  stillMounted: boolean;
  targetAfter: string[];
}

describe.skipIf(need.skip)('rootfs drivers in the session', () => {
  let box: Sandbox;
  let work: string;
  let bundle: string;
  let storage: string;
  let lowers: string[];

  function runner<T>(scenario: string, args: Record<string, unknown>): T {
    const run = hutch(['unshare', 'node', bundle, scenario, JSON.stringify(args)], box);
    if (run.status !== 0) throw new Error(`fs-runner ${scenario} failed (${run.status}): ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  }

  function mountinfo(): string[] {
    return ok(['unshare', 'cat', '/proc/self/mountinfo'], box)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ')[4] as string);
  }

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    work = mkdtempSync(join(tmpdir(), 'hutch-rootfs-'));
    bundle = runnerBundle('fs-runner');
    const base = await new TarBuilder()
      .file('keep.txt', 'kept\n', { mode: 0o644 })
      .file('gone.txt', 'deleted by the top layer\n')
      .file('gone-later.txt', 'deleted through the merged view\n')
      .dir('dir/', { mode: 0o755 })
      .file('dir/old', 'old\n')
      .dir('opq/', { mode: 0o750, uid: 1000, gid: 1000 })
      .file('opq/hidden', 'hidden by the opaque directory above\n')
      .symlink('link', 'keep.txt')
      .file('owned', 'by 1000\n', { uid: 1000, gid: 1000, mode: 0o600 })
      .hardlink('keep-again.txt', 'keep.txt')
      .toBuffer();
    const baseTar = join(work, 'base.tar');
    writeFileSync(baseTar, base);
    ok(['import', baseTar, 'rootfs-base'], box);
    const baseDiff = join(storage, 'layers', createHash('sha256').update(base).digest('hex'), 'diff');
    const topTar = join(work, 'top.tar');
    writeFileSync(
      topTar,
      await new TarBuilder()
        .whiteout('gone.txt')
        .dir('opq/', { mode: 0o755 })
        .opaque('opq')
        .file('opq/new', 'new in the opaque directory\n')
        .dir('dir/', { mode: 0o755 })
        .file('dir/added', 'added\n')
        .file('top.txt', 'top\n')
        .toBuffer(),
    );
    const top = runner<{ path: string }>('unpack', { storage, tar: topTar });
    lowers = [baseDiff, top.path];
  });

  afterAll(() => {
    if (work !== undefined && box !== undefined) hutch(['unshare', 'rm', '-rf', work], box);
    box?.dispose();
  });

  for (const driver of ['overlay', 'fuse-overlayfs', 'copy'] as const) {
    it(`${driver}: merges two layers with a whiteout and an opaque directory; writes land in upper; unmount leaves nothing`, () => {
      const base = join(work, driver);
      const result = runner<DriverResult>('driver', { driver, lowers, base });
      expect(result.mountedWhileUp).toBe(driver !== 'copy');
      const { merged } = result;
      expect(Object.keys(merged).sort()).toEqual(
        [
          'dir',
          'dir/added',
          'dir/old',
          'gone-later.txt',
          'keep-again.txt',
          'keep.txt',
          'link',
          'opq',
          'opq/new',
          'owned',
          'top.txt',
        ].sort(),
      );
      expect(merged.link).toBe('l 0:0 -> keep.txt');
      expect(merged.owned).toMatch(/^f 600 1000:1000 8 /);
      // The opaque directory has the top layer's metadata.
      expect(merged.opq).toBe('d 755 0:0');
      expect(result.after['new.txt']).toMatch(/^f 644 0:0 4 /);
      expect(result.after['keep.txt']).toMatch(/^f 644 0:0 8 /);
      expect(result.after['gone-later.txt']).toBeUndefined();
      if (driver !== 'copy') {
        const { upper } = result;
        expect(upper['new.txt']).toMatch(/^f 644 0:0 4 /);
        // fuse-overlayfs keeps hard links of the lower layers linked (the kernel's overlay breaks
        // them on copy up), so the copy up may land under the other name of the file.
        const modified =
          driver === 'fuse-overlayfs' ? (upper['keep.txt'] ?? upper['keep-again.txt']) : upper['keep.txt'];
        expect(modified, JSON.stringify(upper)).toMatch(/^f 644 0:0 8 /);
        // A deleted lower file: overlay's whiteout (fuse-overlayfs may fall back to a .wh. file).
        const whiteout = upper['gone-later.txt'] ?? upper['.wh.gone-later.txt'];
        expect(whiteout, JSON.stringify(upper)).toMatch(/^(c 0|f )/);
        expect(upper['top.txt']).toBeUndefined();
      }
      expect(result.stillMounted).toBe(false);
      expect(result.targetAfter).toEqual([]);
      expect(mountinfo()).not.toContain(join(base, 'merged'));
    });
  }

  it('overlay: an image of 128 layers mounts through short relative links', () => {
    const result = runner<{ relative: boolean; bytes: number; files: number; top: string; stillMounted: boolean }>(
      'many-layers',
      { storage: join(work, 'many'), count: 128, base: join(work, 'many-container') },
    );
    expect(result.relative).toBe(true);
    expect(result.bytes).toBeLessThan(4096);
    expect(result.files).toBe(129);
    expect(result.top).toBe('127\n');
    expect(result.stillMounted).toBe(false);
    // One short link per layer, made once.
    const links = ok(['unshare', 'ls', join(work, 'many', 'layers', 'l')], box)
      .trim()
      .split('\n');
    expect(links).toHaveLength(128);
    expect(links.every((l) => /^[A-Z2-7]{20}$/.test(l))).toBe(true);
  });

  it('overlay: a scratch image (no layers) mounts an empty lower', () => {
    const base = join(work, 'scratch');
    mkdirSync(base);
    const result = runner<{ entries: string[]; wrote: string }>('scratch', { base });
    expect(result.entries).toEqual([]);
    expect(result.wrote).toBe('x');
    expect(readFileSync(join(base, 'upper', 'file'), 'utf8')).toBe('x');
  });
});
