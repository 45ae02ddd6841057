import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { digestOf, DigestMismatchError, VerifyingStream, type Digest } from '../../src/image/digest.js';

const sink = () => new Writable({ write: (_c, _e, done) => done() });

describe('verifying streams', () => {
  it('passes content that matches digest and size', async () => {
    const data = Buffer.from('hello');
    await pipeline(Readable.from([data]), new VerifyingStream('blob', { digest: digestOf(data), size: 5 }), sink());
  });

  it('fails on a wrong digest, a short body and an overlong one', async () => {
    const data = Buffer.from('hello');
    const run = (expected: { digest: Digest; size?: number }, chunks: Buffer[]) =>
      pipeline(Readable.from(chunks), new VerifyingStream('blob x', expected), sink());
    await expect(run({ digest: digestOf('other'), size: 5 }, [data])).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(run({ digest: digestOf(data), size: 6 }, [data])).rejects.toThrow(/expected 6 bytes, got 5/);
    await expect(run({ digest: digestOf(data), size: 3 }, [data])).rejects.toThrow(/expected 3 bytes, got 5/);
  });
});
