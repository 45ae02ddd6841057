import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HutchError } from '../errors.js';

/** A content digest, `sha256:<64 hex>` (or sha512), as the OCI image spec defines it. */
export type Digest = `${'sha256' | 'sha512'}:${string}`;

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): value is Digest {
  return DIGEST.test(value);
}

/** Validates untrusted input (a manifest, a registry header) as a digest. */
export function parseDigest(value: string, where: string): Digest {
  if (!isDigest(value)) throw new HutchError(`${where}: invalid digest ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

export function algorithmOf(digest: Digest): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function hexOf(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** The first 12 hex digits, as image ids are shown. */
export function shortId(digest: Digest): string {
  return hexOf(digest).slice(0, 12);
}

export function digestOf(data: Buffer | string, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Thrown when content does not hash to what its descriptor says, or is not the size it says. */
export class DigestMismatchError extends HutchError {
  constructor(what: string, expected: { digest: Digest; size?: number }, actual: { digest?: Digest; size: number }) {
    const detail =
      expected.size !== undefined && actual.size !== expected.size
        ? `expected ${expected.size} bytes, got ${actual.size}`
        : `expected ${expected.digest}, got ${actual.digest ?? 'a different digest'}`;
    super(`${what}: content does not match its digest (${detail})`, {
      hint: 'the registry or file is corrupt or was tampered with; nothing was stored',
    });
    this.name = 'DigestMismatchError';
  }
}

/**
 * A pass-through stream that hashes what flows through it and, at the end,
 * fails with DigestMismatchError unless digest AND size match. It also fails as
 * soon as more bytes than expected arrive, so a lying registry cannot fill the disk.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private size = 0;

  constructor(
    private readonly what: string,
    private readonly expected: { digest: Digest; size?: number },
  ) {
    super();
    this.hash = createHash(algorithmOf(expected.digest));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.expected.size !== undefined && this.size > this.expected.size) {
      callback(new DigestMismatchError(this.what, this.expected, { size: this.size }));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `${algorithmOf(this.expected.digest)}:${this.hash.digest('hex')}` as Digest;
    if (actual !== this.expected.digest || (this.expected.size !== undefined && this.size !== this.expected.size)) {
      callback(new DigestMismatchError(this.what, this.expected, { digest: actual, size: this.size }));
      return;
    }
    callback();
  }
}

/** Hashes a stream as it passes; digest() and size are valid after the end. */
export class HashingStream extends Transform {
  private readonly hash: Hash;
  size = 0;

  constructor(private readonly algorithm: 'sha256' | 'sha512' = 'sha256') {
    super();
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  private result: Digest | undefined;

  digest(): Digest {
    this.result ??= `${this.algorithm}:${this.hash.digest('hex')}`;
    return this.result;
  }
}
