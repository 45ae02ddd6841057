import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import { DigestMismatchError, digestOf, type Digest } from '../../src/image/digest.js';
import { BlobStore } from '../../src/image/store/blobs.js';

let root: string;
let tmp: string;
let blobs: BlobStore;
beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'hutch-blobs-'));
  root = join(base, 'oci');
  tmp = join(base, 'tmp');
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  mkdirSync(tmp);
  blobs = new BlobStore(root, tmp);
});
afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of n bytes that counts what was pulled from it. */
function counted(n: number, chunk = 64 * 1024): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = new Readable({
    read() {
      if (pulled >= n) return this.push(null);
      const size = Math.min(chunk, n - pulled);
      pulled += size;
      this.push(Buffer.alloc(size, 7));
    },
  });
  return { stream, pulled: () => pulled };
}

describe('BlobStore', () => {
  it('stores content under its digest and reads it back', async () => {
    const body = Buffer.from('hello blob');
    const { digest, size } = await blobs.write(body);
    expect(digest).toBe(digestOf(body));
    expect(size).toBe(body.length);
    expect(blobs.has(digest)).toBe(true);
    expect(blobs.path(digest)).toBe(join(root, 'blobs', 'sha256', digest.slice(7)));
    expect(readFileSync(blobs.path(digest))).toEqual(body);
    expect(await drain(blobs.open(digest, size))).toEqual(body);
    expect(await blobs.readBuffer(digest, 1024)).toEqual(body);
    expect(blobs.list()).toEqual([digest]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('is idempotent: writing the same content again changes nothing and leaves no temp file', async () => {
    const body = randomBytes(100_000);
    const first = await blobs.write(Readable.from([body]));
    const second = await blobs.write(body, { digest: first.digest, size: first.size });
    const third = await blobs.write(Readable.from([body]));
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(blobs.list()).toEqual([first.digest]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a digest mismatch stores nothing and leaves no temp file', async () => {
    const body = Buffer.from('the real content');
    const wrong = digestOf('something else');
    const error = await blobs.write(body, { digest: wrong }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toBe(
      `blob ${wrong}: content does not match its digest (expected ${wrong}, got ${digestOf(body)})`,
    );
    expect(blobs.has(wrong)).toBe(false);
    expect(blobs.list()).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a size mismatch stores nothing', async () => {
    const body = Buffer.from('twelve bytes');
    const error = await blobs.write(body, { digest: digestOf(body), size: 13 }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `blob ${digestOf(body)}: content does not match its digest (expected 13 bytes, got 12)`,
    );
    expect(blobs.list()).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('stops reading a source that overflows the expected size (a lying registry cannot fill the disk)', async () => {
    const { stream, pulled } = counted(512 * 1024 * 1024);
    const expected = { digest: digestOf('x'), size: 1024 * 1024 };
    const error = await blobs.write(stream, expected).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toMatch(/expected 1048576 bytes, got \d+\)$/);
    expect(pulled()).toBeLessThan(4 * 1024 * 1024);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a failing source stores nothing', async () => {
    const source = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(blobs.write(source)).rejects.toThrow('connection reset');
    expect(blobs.list()).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('open() verifies while reading: a corrupted blob fails at the end', async () => {
    const body = randomBytes(10_000);
    const { digest } = await blobs.write(body);
    const corrupted = Buffer.from(body);
    corrupted[5000] = (corrupted[5000] as number) ^ 0xff;
    writeFileSync(blobs.path(digest), corrupted);
    await expect(drain(blobs.open(digest))).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(blobs.readBuffer(digest, 1 << 20)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(() => blobs.readBufferSync(digest, 1 << 20)).toThrow(DigestMismatchError);
  });

  it('open() of a missing blob throws at once', () => {
    const digest = digestOf('absent');
    expect(() => blobs.open(digest)).toThrow(`blob ${digest} is missing from the store`);
  });

  it('readBuffer refuses a blob bigger than its limit before reading it', async () => {
    const { digest } = await blobs.write(Buffer.alloc(5000));
    const error = await blobs.readBuffer(digest, 4096).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HutchError);
    expect((error as Error).message).toBe(`blob ${digest} is 5000 bytes, more than the 4096 allowed for it`);
  });

  it('remove() is idempotent; list() ignores strays, strays() names them', async () => {
    const { digest } = await blobs.write(Buffer.from('a'));
    writeFileSync(join(root, 'blobs', 'sha256', 'not-a-digest'), '');
    expect(blobs.list()).toEqual([digest]);
    expect(blobs.strays()).toEqual([join(root, 'blobs', 'sha256', 'not-a-digest')]);
    blobs.remove(digest);
    blobs.remove(digest);
    expect(blobs.list()).toEqual([]);
  });

  it('refuses a malformed digest', () => {
    expect(() => blobs.path('sha256:../../etc/passwd' as Digest)).toThrow('invalid digest "sha256:../../etc/passwd"');
  });

  it('stage() holds content until commit or discard', async () => {
    const body = Buffer.from('staged');
    const staged = await blobs.stage(Readable.from([body]));
    expect(staged.digest).toBe(digestOf(body));
    expect(blobs.has(staged.digest)).toBe(false);
    expect(readFileSync(staged.path)).toEqual(body);
    staged.commit();
    staged.commit();
    expect(blobs.has(staged.digest)).toBe(true);
    const other = await blobs.stage(Buffer.from('discarded'));
    other.discard();
    expect(blobs.has(other.digest)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('hashes big streams correctly', async () => {
    const { stream } = counted(20 * 1024 * 1024);
    const hash = createHash('sha256');
    for await (const chunk of counted(20 * 1024 * 1024).stream) hash.update(chunk as Buffer);
    const { digest, size } = await blobs.write(stream);
    expect(digest).toBe(`sha256:${hash.digest('hex')}`);
    expect(size).toBe(20 * 1024 * 1024);
  });

  // Root reads through any mode: the unreadable cases are an unprivileged user's.
  it.skipIf(process.getuid?.() === 0)(
    'has() and size() surface EACCES: an unreadable blob is not a missing one',
    async () => {
      const { digest } = await blobs.write(Buffer.from('behind a closed door'));
      const missing = digestOf('never stored');
      chmodSync(join(root, 'blobs', 'sha256'), 0o000);
      try {
        expect(() => blobs.has(digest)).toThrow(expect.objectContaining({ code: 'EACCES' }));
        expect(() => blobs.size(digest)).toThrow(expect.objectContaining({ code: 'EACCES' }));
        expect(() => blobs.has(missing)).toThrow(expect.objectContaining({ code: 'EACCES' }));
        expect(() => blobs.list()).toThrow(expect.objectContaining({ code: 'EACCES' }));
      } finally {
        chmodSync(join(root, 'blobs', 'sha256'), 0o755);
      }
      expect(blobs.has(digest)).toBe(true);
      expect(blobs.has(missing)).toBe(false);
      expect(blobs.size(missing)).toBeUndefined();
    },
  );

  it('a malformed digest is not stored (has, size), without touching the file system', () => {
    expect(blobs.has('sha256:../../etc/passwd' as Digest)).toBe(false);
    expect(blobs.size('sha256:../../etc/passwd' as Digest)).toBeUndefined();
  });
});
