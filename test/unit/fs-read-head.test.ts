import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readHead, readHeadFd } from '../../src/fs/read-head.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-head-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readHead', () => {
  it('reads the first length bytes of a longer file', () => {
    const path = join(dir, 'layer.tar.gz');
    writeFileSync(path, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(100_000, 7)]));
    expect(readHead(path, 4)).toEqual(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
    expect(readHead(path, 70_000).length).toBe(70_000);
  });

  it('returns fewer bytes for a shorter file, none for an empty one', () => {
    writeFileSync(join(dir, 'short'), 'ab');
    writeFileSync(join(dir, 'empty'), '');
    expect(readHead(join(dir, 'short'), 8)).toEqual(Buffer.from('ab'));
    expect(readHead(join(dir, 'empty'), 8)).toEqual(Buffer.alloc(0));
  });

  it('throws ENOENT for a missing file', () => {
    expect(() => readHead(join(dir, 'missing'), 8)).toThrow(/ENOENT/);
  });
});

describe('readHeadFd', () => {
  it('reads from offset 0 whatever the fd has read already, and leaves its position alone', () => {
    const path = join(dir, 'f');
    writeFileSync(path, '0123456789');
    const fd = openSync(path, 'r');
    try {
      const skipped = Buffer.alloc(3);
      readSync(fd, skipped);
      expect(readHeadFd(fd, 4).toString()).toBe('0123');
      const next = Buffer.alloc(2);
      readSync(fd, next);
      expect(next.toString()).toBe('34');
    } finally {
      closeSync(fd);
    }
  });
});
