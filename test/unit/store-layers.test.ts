import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigestMismatchError, digestOf } from '../../src/image/digest.js';
import { LayerStore, unpackLayer } from '../../src/image/store/layers.js';

let base: string;
let layers: LayerStore;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hutch-layers-'));
  for (const d of ['layers', 'tmp', 'locks']) mkdirSync(join(base, d));
  layers = new LayerStore(join(base, 'layers'), join(base, 'tmp'), join(base, 'locks'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const archive = pack();
  for (const [name, body] of Object.entries(files)) {
    archive.entry(
      {
        name,
        mode: 0o644,
        mtime: new Date(1_700_000_000_000),
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
      },
      body,
    );
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('LayerStore.ensure', () => {
  it('fills once per diff id, however many callers wait, and leaves no temp dir', async () => {
    const diffId = digestOf('layer one');
    let fills = 0;
    const fill = async (dir: string) => {
      fills++;
      await tick(100);
      writeFileSync(join(dir, 'file'), 'content');
      return { size: 7 };
    };
    const paths = await Promise.all([
      layers.ensure(diffId, fill),
      layers.ensure(diffId, fill),
      layers.ensure(diffId, fill),
    ]);
    expect(fills).toBe(1);
    expect(new Set(paths)).toEqual(new Set([layers.path(diffId)]));
    expect(readFileSync(join(layers.path(diffId), 'file'), 'utf8')).toBe('content');
    expect(layers.info(diffId)).toEqual({ diffId, size: 7 });
    expect(layers.list()).toEqual([diffId]);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
  });

  it('a failing fill leaves nothing in layers/ or tmp/, and the next caller fills again', async () => {
    const diffId = digestOf('layer two');
    await expect(
      layers.ensure(diffId, async (dir) => {
        writeFileSync(join(dir, 'half'), 'written');
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    expect(readdirSync(join(base, 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
    await layers.ensure(diffId, async () => undefined);
    expect(layers.has(diffId)).toBe(true);
  });

  it('remove() takes a layer away; strays() names incomplete directories', async () => {
    const diffId = digestOf('layer three');
    await layers.ensure(diffId, async () => undefined);
    mkdirSync(join(base, 'layers', 'f'.repeat(64)));
    expect(layers.strays()).toEqual([join(base, 'layers', 'f'.repeat(64))]);
    layers.remove(diffId);
    expect(layers.has(diffId)).toBe(false);
    expect(layers.list()).toEqual([]);
  });
});

describe('unpackLayer', () => {
  it('decompresses, checks the diff id and unpacks, once', async () => {
    const tar = await tarOf({ 'etc/hostname': 'box\n', 'bin/tool': 'x' });
    const diffId = digestOf(tar);
    const path = await unpackLayer({ layers }, diffId, Readable.from([gzipSync(tar)]), 'gzip', { userXattrs: false });
    expect(path).toBe(layers.path(diffId));
    expect(readFileSync(join(path, 'etc', 'hostname'), 'utf8')).toBe('box\n');
    expect(layers.info(diffId).size).toBe(tar.length);
    // Already there: the source is not read.
    let read = false;
    const source = new Readable({
      read() {
        read = true;
        this.push(null);
      },
    });
    await unpackLayer({ layers }, diffId, source, 'gzip', { userXattrs: false });
    expect(read).toBe(false);
  });

  it('a layer that does not hash to its diff id is refused and nothing stays', async () => {
    const tar = await tarOf({ 'etc/hostname': 'box\n' });
    const claimed = digestOf('another layer');
    const error = await unpackLayer({ layers }, claimed, Readable.from([tar]), 'none', { userXattrs: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toBe(
      `layer ${claimed}: content does not match its digest (expected ${claimed}, got ${digestOf(tar)})`,
    );
    expect(readdirSync(join(base, 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
  });

  it('a corrupt gzip stream is refused and nothing stays', async () => {
    const tar = await tarOf({ a: 'b' });
    const gz = gzipSync(tar);
    gz[gz.length - 6] = (gz[gz.length - 6] as number) ^ 0xff;
    await expect(
      unpackLayer({ layers }, digestOf(tar), Readable.from([gz]), 'gzip', { userXattrs: false }),
    ).rejects.toThrow();
    expect(readdirSync(join(base, 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'tmp'))).toEqual([]);
  });
});
