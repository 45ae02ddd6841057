/**
 * commitUpper: an overlay upper directory becomes a gzip layer blob whose
 * uncompressed digest is the diff id, and the directory itself becomes the
 * unpacked layer (by a rename); mount points left empty stay out of the tar,
 * mtimes are clamped to the timestamp, and a second identical upper reuses
 * the layer already there.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitUpper } from '../../src/build/layer.js';
import { ImageStore } from '../../src/image/store/store.js';

let base: string;
let store: ImageStore;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hutch-build-layer-'));
  store = ImageStore.open(join(base, 'storage'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function makeUpper(name: string): string {
  const upper = join(store.tmpDir, name);
  mkdirSync(join(upper, 'app', 'sub'), { recursive: true });
  writeFileSync(join(upper, 'app', 'sub', 'file'), 'content\n');
  symlinkSync('sub/file', join(upper, 'app', 'link'));
  mkdirSync(join(upper, 'etc'));
  writeFileSync(join(upper, 'etc', 'hosts'), '');
  return upper;
}

async function entries(tar: Buffer): Promise<{ name: string; mtime: number; type: string }[]> {
  const out: { name: string; mtime: number; type: string }[] = [];
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      out.push({ name: header.name, mtime: (header.mtime as Date).getTime() / 1000, type: header.type as string });
      stream.resume();
      stream.on('end', next);
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  Readable.from([tar]).pipe(reader);
  await done;
  return out;
}

describe('commitUpper', () => {
  it('makes the blob and the unpacked layer from the upper directory', async () => {
    const upper = makeUpper('upper-1');
    const old = new Date(1_600_000_000_000);
    utimesSync(join(upper, 'app', 'sub', 'file'), old, old);
    const timestamp = new Date(1_700_000_000_000);
    const layer = await commitUpper(store, upper, { userXattrs: true, timestamp, skipEmpty: ['/etc/hosts'] });

    const blob = readFileSync(join(store.ociDir, 'blobs', 'sha256', layer.blob.digest.slice(7)));
    expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(layer.blob.digest);
    expect(blob.length).toBe(layer.blob.size);
    const tar = gunzipSync(blob);
    expect(`sha256:${createHash('sha256').update(tar).digest('hex')}`).toBe(layer.diffId);

    const listed = await entries(tar);
    expect(listed.map((e) => e.name.replace(/\/$/, ''))).toEqual(['app', 'app/link', 'app/sub', 'app/sub/file', 'etc']);
    // Newer than the timestamp: clamped; older: kept.
    expect(listed.find((e) => e.name === 'app/sub/file')?.mtime).toBe(1_600_000_000);
    expect(listed.find((e) => e.name.startsWith('app/sub') && e.type === 'directory')?.mtime).toBe(1_700_000_000);

    expect(existsSync(upper)).toBe(false);
    expect(layer.path).toBe(store.layers.path(layer.diffId));
    expect(readFileSync(join(layer.path, 'app', 'link'), 'utf8')).toBe('content\n');
  });

  it('reuses the layer an identical upper made before, and drops the second upper', async () => {
    const timestamp = new Date(1_700_000_000_000);
    const first = await commitUpper(store, makeUpper('upper-a'), { userXattrs: true, timestamp });
    const secondUpper = makeUpper('upper-b');
    const second = await commitUpper(store, secondUpper, { userXattrs: true, timestamp });
    expect(second.diffId).toBe(first.diffId);
    expect(second.blob.digest).toBe(first.blob.digest);
    expect(second.path).toBe(first.path);
    expect(existsSync(secondUpper)).toBe(false);
    expect(store.layers.list()).toEqual([first.diffId]);
  });
});
