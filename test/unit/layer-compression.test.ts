import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  compressStream,
  decompressArchive,
  decompressStream,
  detectArchiveCompression,
  detectCompression,
} from '../../src/image/layer/compression.js';
import { requires } from '../helpers/requires.js';

// CI provisions both (scripts/provision): there, a missing one fails instead of skipping its tests.
const pigz = requires('pigz');
const zstd = requires('zstd');

/** Compressible data of a few MB: repeated text with random runs. */
function sample(size: number): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < size) {
    const part = length % 3 === 0 ? randomBytes(1000) : Buffer.from('layer data '.repeat(100));
    parts.push(part);
    length += part.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

async function through(stream: Duplex, input: Buffer, chunk = 64 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = function* () {
    for (let at = 0; at < input.length; at += chunk) yield input.subarray(at, at + chunk);
  };
  await pipeline(Readable.from(chunks()), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const part of source) out.push(part);
  });
  return Buffer.concat(out);
}

/** This process's children running program (from /proc). */
function childrenNamed(program: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
      const name = /^Name:\s+(\S+)/m.exec(status)?.[1];
      if (Number(ppid) === process.pid && name === program) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

const waitClose = (stream: Duplex) => new Promise<void>((resolve) => stream.once('close', () => resolve()));

describe('detectCompression', () => {
  it('reads the magic bytes', () => {
    expect(detectCompression(gzipSync('x').subarray(0, 4))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00]))).toBe('zstd');
    expect(detectCompression(Buffer.from('usr/\0\0\0\0'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
    expect(detectCompression(Buffer.from([0x1f]))).toBe('none');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f]))).toBe('none');
  });
});

describe('detectArchiveCompression', () => {
  it('knows bzip2 and xz besides what layers use (podman cp takes all four on stdin)', async () => {
    expect(detectArchiveCompression(Buffer.from('BZh91AY&SY'))).toBe('bzip2');
    expect(detectArchiveCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00]))).toBe('xz');
    expect(detectArchiveCompression(gzipSync(Buffer.from('x')))).toBe('gzip');
    expect(detectArchiveCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00]))).toBe('zstd');
    expect(detectArchiveCompression(Buffer.from('ustar'))).toBe('none');
    const input = Buffer.from('archive content\n');
    const xz = spawnSync('xz', ['-c'], { input });
    expect(xz.status).toBe(0);
    expect(await through(decompressArchive(detectArchiveCompression(xz.stdout)), xz.stdout)).toEqual(input);
  });
});

describe('none', () => {
  it('passes data through', async () => {
    const data = sample(100_000);
    expect((await through(decompressStream('none'), data)).equals(data)).toBe(true);
    expect((await through(compressStream('none'), data)).equals(data)).toBe(true);
    expect(decompressStream('none')).toBeInstanceOf(PassThrough);
  });
});

describe('gzip', () => {
  let bin: string | undefined;
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
    if (bin !== undefined) rmSync(bin, { recursive: true, force: true });
    bin = undefined;
  });

  it('round-trips through zlib when pigz is not on PATH', async () => {
    bin = mkdtempSync(join(tmpdir(), 'hutch-nopigz-'));
    process.env.PATH = bin;
    const data = sample(3_000_000);
    const compressed = await through(compressStream('gzip', { level: 1 }), data);
    expect(detectCompression(compressed)).toBe('gzip');
    expect(compressed.length).toBeLessThan(data.length);
    expect(gunzipSync(compressed).equals(data)).toBe(true);
    expect((await through(decompressStream('gzip'), compressed)).equals(data)).toBe(true);
    // zlib writes no name and no timestamp: equal input, equal output.
    expect((await through(compressStream('gzip', { level: 1 }), data)).equals(compressed)).toBe(true);
  });

  it.skipIf(pigz.skip)('round-trips through pigz, without a timestamp', async () => {
    const data = sample(3_000_000);
    const compressed = await through(compressStream('gzip'), data);
    expect(compressed.readUInt32LE(4)).toBe(0); // MTIME
    expect(gunzipSync(compressed).equals(data)).toBe(true);
    expect((await through(decompressStream('gzip'), compressed)).equals(data)).toBe(true);
    expect(childrenNamed('pigz')).toEqual([]);
  });

  it.skipIf(pigz.skip)('inflates a blob known to be large through pigz, and a small one in-process', async () => {
    const data = sample(3_000_000);
    const compressed = gzipSync(data);
    const large = decompressStream('gzip', { size: 9 * 1024 * 1024 });
    expect(childrenNamed('pigz')).toHaveLength(1);
    expect((await through(large, compressed)).equals(data)).toBe(true);
    // Its output ends only once pigz has exited with status 0.
    expect(childrenNamed('pigz')).toEqual([]);
    const small = decompressStream('gzip', { size: compressed.length });
    expect(childrenNamed('pigz')).toEqual([]);
    expect((await through(small, compressed)).equals(data)).toBe(true);
    const broken = Buffer.from(compressed);
    broken.fill(0x55, 100, 200);
    await expect(through(decompressStream('gzip', { size: 9 * 1024 * 1024 }), broken)).rejects.toThrow(/pigz/);
  });

  it('fails on corrupt input', async () => {
    const compressed = gzipSync(sample(200_000));
    compressed.fill(0x55, 100, 200);
    await expect(through(decompressStream('gzip'), compressed)).rejects.toThrow();
    await expect(through(decompressStream('gzip'), Buffer.from('not gzip at all'))).rejects.toThrow(
      /incorrect header check/,
    );
  });

  it('refuses levels out of range', () => {
    expect(() => compressStream('gzip', { level: 0 })).toThrow(HutchError);
    expect(() => compressStream('gzip', { level: 10 })).toThrow('gzip compression level 10 is out of range (1 to 9)');
    expect(() => compressStream('zstd', { level: 1.5 })).toThrow(HutchError);
  });
});

describe.skipIf(zstd.skip)('zstd', () => {
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('round-trips through the zstd program', async () => {
    const data = sample(5_000_000);
    const compressed = await through(compressStream('zstd', { level: 3 }), data);
    expect(detectCompression(compressed)).toBe('zstd');
    expect(compressed.length).toBeLessThan(data.length);
    const back = await through(decompressStream('zstd'), compressed, 7_000);
    expect(back.equals(data)).toBe(true);
    expect(childrenNamed('zstd')).toEqual([]);
  });

  it('keeps backpressure: a slow reader holds the program back', async () => {
    const data = sample(2_000_000);
    const compressed = await through(compressStream('zstd'), data);
    const stream = decompressStream('zstd');
    stream.end(compressed);
    // Nobody reads: the program fills the pipe and waits; nothing is lost.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const out: Buffer[] = [];
    for await (const part of stream) out.push(part as Buffer);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });

  it('fails with the first line of stderr on corrupt input', async () => {
    const compressed = await through(compressStream('zstd'), sample(500_000));
    compressed.fill(0x55, 40, 400);
    await expect(through(decompressStream('zstd'), compressed)).rejects.toThrow(
      /^zstd exited with status 1: .*(error|checksum)/i,
    );
    await expect(through(decompressStream('zstd'), Buffer.from('definitely not zstd'))).rejects.toThrow(
      /zstd exited with status 1: .*unsupported format/,
    );
    expect(childrenNamed('zstd')).toEqual([]);
  });

  it('kills and reaps the program when destroyed early', async () => {
    const stream = decompressStream('zstd');
    const compressed = await through(compressStream('zstd'), sample(1_000_000));
    stream.write(compressed.subarray(0, 100_000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(childrenNamed('zstd')).toHaveLength(1);
    const closed = waitClose(stream);
    stream.destroy();
    await closed;
    expect(childrenNamed('zstd')).toEqual([]);
  });

  it('kills the compressor too when its consumer gives up', async () => {
    const stream = compressStream('zstd');
    stream.write(sample(1_000_000));
    const closed = waitClose(stream);
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    stream.destroy(new Error('consumer gave up'));
    expect((await failed).message).toBe('consumer gave up');
    await closed;
    expect(childrenNamed('zstd')).toEqual([]);
  });

  it('names the Debian package when zstd is missing', () => {
    const bin = mkdtempSync(join(tmpdir(), 'hutch-nozstd-'));
    try {
      // pigz alone on PATH: gzip still works, zstd does not.
      if (!pigz.skip)
        symlinkSync(spawnSync('sh', ['-c', 'command -v pigz'], { encoding: 'utf8' }).stdout.trim(), join(bin, 'pigz'));
      process.env.PATH = bin;
      expect(() => decompressStream('zstd')).toThrow(HutchError);
      try {
        compressStream('zstd');
        expect.unreachable();
      } catch (error) {
        expect((error as HutchError).message).toBe('zstd not found on PATH: hutch runs it to (de)compress zstd layers');
        expect((error as HutchError).hint).toMatch(/apt-get install zstd/);
      }
      expect(() => compressStream('gzip').destroy()).not.toThrow();
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
