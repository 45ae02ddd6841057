import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tee } from '../../src/image/tee.js';

describe('tee', () => {
  it('gives both sides every byte, at the pace of the slower one', async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const [a, b] = tee(Readable.from(chunks));
    const collect = async (stream: Readable, delay: number) => {
      const parts: Buffer[] = [];
      for await (const chunk of stream) {
        parts.push(chunk as Buffer);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      }
      return Buffer.concat(parts);
    };
    const [fast, slow] = await Promise.all([collect(a, 0), collect(b, 1)]);
    expect(fast.equals(Buffer.concat(chunks))).toBe(true);
    expect(slow.equals(fast)).toBe(true);
  });

  it('stops feeding a side destroyed without an error', async () => {
    const [a, b] = tee(Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(64 * 1024))));
    a.destroy();
    let size = 0;
    for await (const chunk of b) size += (chunk as Buffer).length;
    expect(size).toBe(100 * 64 * 1024);
  });

  it('destroys the source and the other side when one side fails', async () => {
    const source = new Readable({ read() {} });
    const [a, b] = tee(source);
    const failure = new Error('disk full');
    a.destroy(failure);
    await expect(new Promise((_, reject) => b.on('error', reject))).rejects.toBe(failure);
    expect(source.destroyed).toBe(true);
  });
});
