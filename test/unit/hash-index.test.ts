import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileHashIndex, type HashedFile } from '../../src/build/hash-index.js';

const HASH = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('FileHashIndex', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hash-index-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (changes: Partial<HashedFile> = {}): HashedFile => ({
    absolute: '/ctx/a.txt',
    inode: '1:2',
    size: 4,
    mtimeMs: 1_000_000,
    ctimeMs: 1_000_000,
    ...changes,
  });

  it('gives a recorded hash back only for the same path, inode, size, mtime and ctime, across builds', () => {
    const first = FileHashIndex.load(dir, '/ctx');
    expect(first.get(file())).toBeUndefined();
    first.set(file(), HASH, 1_000_000 + 60_000);
    first.save();

    const second = FileHashIndex.load(dir, '/ctx');
    expect(second.get(file())).toBe(HASH);
    expect(second.get(file({ ctimeMs: 1_000_001 }))).toBeUndefined();
    expect(second.get(file({ mtimeMs: 999_999 }))).toBeUndefined();
    expect(second.get(file({ size: 5 }))).toBeUndefined();
    expect(second.get(file({ inode: '1:3' }))).toBeUndefined();
    expect(second.get(file({ absolute: '/ctx/b.txt' }))).toBeUndefined();
    // Another context has an index of its own.
    expect(FileHashIndex.load(dir, '/other').get(file())).toBeUndefined();
  });

  it('does not record a file changed within two seconds before it was hashed, nor one without a ctime', () => {
    const index = FileHashIndex.load(dir, '/ctx');
    index.set(file(), HASH, 1_000_000 + 1_999);
    index.set(file({ absolute: '/ctx/b.txt', ctimeMs: undefined }), OTHER, 1_000_000 + 60_000);
    index.save();
    const again = FileHashIndex.load(dir, '/ctx');
    expect(again.get(file())).toBeUndefined();
    expect(again.get(file({ absolute: '/ctx/b.txt', ctimeMs: undefined }))).toBeUndefined();
  });

  it('reads a damaged index as empty and replaces it', () => {
    const first = FileHashIndex.load(dir, '/ctx');
    first.set(file(), HASH, 1_000_000 + 60_000);
    first.save();
    const [name] = readdirSync(dir);
    writeFileSync(join(dir, name as string), '{"not": "a hash", ');
    const broken = FileHashIndex.load(dir, '/ctx');
    expect(broken.get(file())).toBeUndefined();
    broken.set(file(), OTHER, 1_000_000 + 60_000);
    broken.save();
    expect(FileHashIndex.load(dir, '/ctx').get(file())).toBe(OTHER);
  });
});
