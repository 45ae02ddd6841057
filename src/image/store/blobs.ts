/**
 * The blobs of the store's OCI layout (`oci/blobs/<algorithm>/<hex>`):
 * content-addressed files, written once, never changed in place.
 */
import {
  closeSync,
  createReadStream,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  write,
} from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError } from '../../errors.js';
import {
  algorithmOf,
  DigestMismatchError,
  digestOf,
  HashingStream,
  hexOf,
  isDigest,
  VerifyingStream,
  type Digest,
} from '../digest.js';
import { createTempFile } from '../../fs/lock.js';

const HEX = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ } as const;

/**
 * A Writable onto an fd it does not own: unlike fs.createWriteStream, it never
 * closes the fd (createWriteStream closes it when destroyed, even with
 * autoClose false, and a second close could hit an fd number reused meanwhile).
 */
export function fdSink(fd: number): Writable {
  const writeAll = (chunk: Buffer, callback: (error?: Error | null) => void, offset = 0): void => {
    write(fd, chunk, offset, chunk.length - offset, null, (error, n) => {
      if (error) callback(error);
      else if (offset + n < chunk.length) writeAll(chunk, callback, offset + n);
      else callback();
    });
  };
  return new Writable({ write: (chunk: Buffer, _encoding, callback) => writeAll(chunk, callback) });
}

/**
 * Destroys a stream nobody will read. A file stream still opening reports its
 * open's failure after destroy(): a listener keeps that from being unhandled.
 */
export function discardStream(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

/** Opens a directory and fsyncs it, so a rename into it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Content hashed and stored in a temp file, waiting to be committed to the store or discarded. */
export interface StagedBlob {
  /** The temp file (readable until commit or discard). */
  path: string;
  digest: Digest;
  size: number;
  /** Renames it into the store (idempotent: replaces identical content). */
  commit(): void;
  /** Removes the temp file. */
  discard(): void;
}

export class BlobStore {
  /**
   * @param root the OCI layout directory (holding blobs/)
   * @param tmpDir a directory on the same file system, for atomic renames
   */
  constructor(
    readonly root: string,
    private readonly tmpDir: string,
  ) {}

  /** Where the blob lives (whether or not it is there). Refuses a malformed digest. */
  path(digest: Digest): string {
    if (!isDigest(digest)) throw new HutchError(`invalid digest ${JSON.stringify(String(digest).slice(0, 80))}`);
    return join(this.root, 'blobs', algorithmOf(digest), hexOf(digest));
  }

  has(digest: Digest): boolean {
    try {
      return statSync(this.path(digest)).isFile();
    } catch {
      return false;
    }
  }

  /** The stored size in bytes; undefined when the blob is missing. */
  size(digest: Digest): number | undefined {
    try {
      return statSync(this.path(digest)).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores content. Atomic and idempotent: streams to a temp file under tmp/
   * (flocked, so `system check` knows it is in use) while hashing it; when
   * `expected` is given, the digest AND size must match (a source longer than
   * expected.size fails as soon as it overflows); the file is fsynced and renamed
   * into place. On any error (mismatch, ENOSPC, a failing source) the temp file
   * is removed and nothing is stored. When the blob is already stored, a stream
   * source is destroyed unread.
   */
  async write(
    source: Readable | Buffer,
    expected?: { digest: Digest; size?: number },
    options: { what?: string } = {},
  ): Promise<{ digest: Digest; size: number }> {
    const what = options.what ?? `blob ${expected?.digest ?? ''}`.trim();
    if (expected !== undefined) {
      const stored = this.size(expected.digest);
      if (stored !== undefined) {
        if (source instanceof Readable) discardStream(source);
        if (expected.size !== undefined && stored !== expected.size) {
          throw new DigestMismatchError(what, expected, { digest: expected.digest, size: stored });
        }
        return { digest: expected.digest, size: stored };
      }
    }
    const staged = await this.stage(source, expected, options);
    staged.commit();
    return { digest: staged.digest, size: staged.size };
  }

  /**
   * write() without the final rename: the content sits, hashed, verified and
   * fsynced, in a flocked temp file until commit() moves it into the store
   * (idempotent) or discard() removes it. For content that must only be stored
   * once something else succeeded (import stores a layer blob only after the
   * layer unpacked).
   */
  async stage(
    source: Readable | Buffer,
    expected?: { digest: Digest; size?: number },
    options: { what?: string } = {},
  ): Promise<StagedBlob> {
    const what = options.what ?? `blob ${expected?.digest ?? ''}`.trim();
    const temp = createTempFile(this.tmpDir, 'blob-');
    let digest: Digest;
    let size: number;
    try {
      const input = source instanceof Readable ? source : Readable.from([source]);
      const hasher =
        expected === undefined
          ? new HashingStream()
          : new VerifyingStream(what, { digest: expected.digest, size: expected.size });
      await pipeline(input, hasher, fdSink(temp.fd));
      fsyncSync(temp.fd);
      size = fstatSync(temp.fd).size;
      digest = hasher instanceof HashingStream ? hasher.digest() : (expected as { digest: Digest }).digest;
    } catch (error) {
      rmSync(temp.path, { force: true });
      temp.release();
      throw error;
    }
    let done = false;
    const finish = () => {
      done = true;
      temp.release();
    };
    return {
      path: temp.path,
      digest,
      size,
      commit: () => {
        if (done) return;
        try {
          const dir = join(this.root, 'blobs', algorithmOf(digest));
          mkdirSync(dir, { recursive: true });
          renameSync(temp.path, this.path(digest));
          fsyncDir(dir);
        } catch (error) {
          rmSync(temp.path, { force: true });
          throw error;
        } finally {
          finish();
        }
      },
      discard: () => {
        if (done) return;
        rmSync(temp.path, { force: true });
        finish();
      },
    };
  }

  /**
   * A stream of the blob, verified while read: it fails with
   * DigestMismatchError at the end unless the content hashes to digest (and has
   * `size` bytes when given). Throws at once when the blob is missing.
   */
  open(digest: Digest, size?: number): Readable {
    const fd = this.openFd(digest);
    const file = createReadStream('', { fd, highWaterMark: 1 << 20 });
    const verifier = new VerifyingStream(`blob ${digest}`, { digest, size });
    file.on('error', (error) => verifier.destroy(error));
    verifier.on('close', () => file.destroy());
    return file.pipe(verifier);
  }

  /** The first bytes of a blob (up to `length`), unverified: for sniffing compression. */
  head(digest: Digest, length: number): Buffer {
    const fd = this.openFd(digest);
    try {
      const buffer = Buffer.alloc(length);
      const n = readSync(fd, buffer, 0, length, 0);
      return buffer.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The whole blob, verified; for manifests and configs. Refuses a blob larger
   * than maxBytes before reading it, so a huge "config" cannot exhaust memory.
   */
  async readBuffer(digest: Digest, maxBytes: number): Promise<Buffer> {
    const fd = this.openFd(digest);
    try {
      const { size } = fstatSync(fd);
      if (size > maxBytes) {
        throw new HutchError(`blob ${digest} is ${size} bytes, more than the ${maxBytes} allowed for it`);
      }
      const body = Buffer.alloc(size);
      let have = 0;
      while (have < size) {
        const n = await new Promise<number>((resolvePromise, reject) =>
          read(fd, body, have, size - have, have, (error, bytes) => (error ? reject(error) : resolvePromise(bytes))),
        );
        if (n === 0) break;
        have += n;
      }
      const actual = digestOf(body.subarray(0, have), algorithmOf(digest));
      if (actual !== digest)
        throw new DigestMismatchError(`blob ${digest}`, { digest }, { digest: actual, size: have });
      return body.subarray(0, have);
    } finally {
      closeSync(fd);
    }
  }

  /** readBuffer, synchronously: for the few-KiB documents (manifests, configs) of a listing. */
  readBufferSync(digest: Digest, maxBytes: number): Buffer {
    const fd = this.openFd(digest);
    try {
      const { size } = fstatSync(fd);
      if (size > maxBytes) {
        throw new HutchError(`blob ${digest} is ${size} bytes, more than the ${maxBytes} allowed for it`);
      }
      const body = readFileSync(fd);
      const actual = digestOf(body, algorithmOf(digest));
      if (actual !== digest)
        throw new DigestMismatchError(`blob ${digest}`, { digest }, { digest: actual, size: body.length });
      return body;
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the blob; nothing happens when it is not there. */
  remove(digest: Digest): void {
    try {
      unlinkSync(this.path(digest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Every stored blob (files whose names are well-formed digests). */
  list(): Digest[] {
    const digests: Digest[] = [];
    for (const algorithm of ['sha256', 'sha512'] as const) {
      let names: string[];
      try {
        names = readdirSync(join(this.root, 'blobs', algorithm));
      } catch {
        continue;
      }
      for (const name of names.sort()) if (HEX[algorithm].test(name)) digests.push(`${algorithm}:${name}`);
    }
    return digests;
  }

  /** Files under blobs/ that are not blobs (a stray name, a directory): for `system check`. */
  strays(): string[] {
    const found: string[] = [];
    let algorithms: string[];
    try {
      algorithms = readdirSync(join(this.root, 'blobs'));
    } catch {
      return found;
    }
    for (const algorithm of algorithms) {
      const dir = join(this.root, 'blobs', algorithm);
      if (algorithm !== 'sha256' && algorithm !== 'sha512') {
        found.push(dir);
        continue;
      }
      for (const name of readdirSync(dir)) {
        let isFile = false;
        try {
          isFile = statSync(join(dir, name)).isFile();
        } catch {
          // vanished
        }
        if (!HEX[algorithm].test(name) || !isFile) found.push(join(dir, name));
      }
    }
    return found;
  }

  private openFd(digest: Digest): number {
    try {
      return openSync(this.path(digest), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new HutchError(`blob ${digest} is missing from the store`, {
          hint: 'run hutch system check --repair, then pull or load the image again',
          cause: error,
        });
      }
      throw error;
    }
  }
}
