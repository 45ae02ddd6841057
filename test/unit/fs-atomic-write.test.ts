import { fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Real files throughout; fsyncSync and renameSync are only observed (each call
// still goes to the real one), to see what was synced and in which order.
const calls: { call: 'fsync' | 'rename'; ino: number; directory: boolean; to?: string }[] = [];
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    fsyncSync: (fd: number) => {
      const stat = real.fstatSync(fd);
      calls.push({ call: 'fsync', ino: stat.ino, directory: stat.isDirectory() });
      real.fsyncSync(fd);
    },
    renameSync: (from: string, to: string) => {
      const stat = real.lstatSync(from);
      calls.push({ call: 'rename', ino: stat.ino, directory: stat.isDirectory(), to });
      real.renameSync(from, to);
    },
  };
});

const { createFileAtomic, fillAtomic, openAtomic, renameDurably, writeFileAtomic, writeStreamAtomic } =
  await import('../../src/fs/atomic-write.js');
const { claimIfAbandoned } = await import('../../src/fs/lock.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-atomic-'));
  calls.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates the file, then replaces it whole, leaving no temp file', () => {
    const path = join(dir, 'state.json');
    writeFileAtomic(path, 'one');
    expect(readFileSync(path, 'utf8')).toBe('one');
    writeFileAtomic(path, Buffer.from('two, longer'));
    expect(readFileSync(path, 'utf8')).toBe('two, longer');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('fsyncs the file before the rename and the directory after it', () => {
    const path = join(dir, 'a');
    writeFileAtomic(path, 'content');
    const file = statSync(path).ino;
    const directory = statSync(dir).ino;
    expect(calls).toEqual([
      { call: 'fsync', ino: file, directory: false },
      { call: 'rename', ino: file, directory: false, to: path },
      { call: 'fsync', ino: directory, directory: true },
    ]);
  });

  it('with durable: false, renames atomically and syncs nothing', () => {
    const path = join(dir, 'state.json');
    writeFileAtomic(path, 'old');
    calls.length = 0;
    writeFileAtomic(path, 'new', { durable: false });
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(calls).toEqual([{ call: 'rename', ino: statSync(path).ino, directory: false, to: path }]);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('creates with the mode given (umask applies), 0666 & ~umask by default like writeFileSync', () => {
    writeFileAtomic(join(dir, 'secret'), 'x', { mode: 0o600 });
    expect(statSync(join(dir, 'secret')).mode & 0o777).toBe(0o600);
    writeFileAtomic(join(dir, 'plain'), 'x');
    writeFileSync(join(dir, 'reference'), 'x');
    expect(statSync(join(dir, 'plain')).mode & 0o777).toBe(statSync(join(dir, 'reference')).mode & 0o777);
  });

  it('a failing rename leaves the old content and no temp file', () => {
    // A non-empty directory cannot be renamed over (EISDIR).
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'inside'), { recursive: true });
    expect(() => writeFileAtomic(path, 'new')).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(path)).toEqual(['inside']);
  });

  it('with tempDir: the temp file is a flocked entry there while written, then renamed over the target', () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const path = join(dir, 'index.json');
    writeFileSync(path, 'old');
    const file = openAtomic(path, { tempDir: tmp, mode: 0o640 });
    expect(file.path.startsWith(`${tmp}/index.json-`)).toBe(true);
    // Live work, not a leftover: nobody else can claim it.
    expect(claimIfAbandoned(file.path)).toBeUndefined();
    fs.writeSync(file.fd, 'new');
    expect(readFileSync(path, 'utf8')).toBe('old');
    file.commit();
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('openAtomic', () => {
  it('a crash between write and rename leaves the old content: the target changes only at commit', () => {
    const path = join(dir, 'config.json');
    writeFileSync(path, 'old');
    const file = openAtomic(path);
    fs.writeSync(file.fd, 'new content');
    fs.fsyncSync(file.fd);
    // What a process killed now leaves: the old file, and a hidden temp beside it.
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readFileSync(file.path, 'utf8')).toBe('new content');
    expect(file.path).toMatch(new RegExp(`^${dir}/\\.config\\.json\\.${process.pid}-[0-9a-f]{12}\\.tmp$`));
    file.commit();
    expect(readFileSync(path, 'utf8')).toBe('new content');
    expect(readdirSync(dir)).toEqual(['config.json']);
  });

  it('discard removes the temp file and leaves the target; commit and discard are idempotent', () => {
    const path = join(dir, 'x');
    writeFileSync(path, 'old');
    const file = openAtomic(path);
    fs.writeSync(file.fd, 'new');
    file.discard();
    file.discard();
    file.commit();
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['x']);
  });

  it('gives concurrent writers of one target distinct temp files', () => {
    const path = join(dir, 'shared');
    const files = Array.from({ length: 64 }, () => openAtomic(path));
    expect(new Set(files.map((f) => f.path)).size).toBe(64);
    expect(new Set(files.map((f) => fstatSync(f.fd).ino)).size).toBe(64);
    for (const [i, file] of files.entries()) {
      fs.writeSync(file.fd, `writer ${i}`);
      file.commit();
    }
    expect(readFileSync(path, 'utf8')).toBe('writer 63');
    expect(readdirSync(dir)).toEqual(['shared']);
  });
});

describe('writeStreamAtomic', () => {
  it('commits what the stream wrote, whole, once it finished; concurrent writers each write whole', async () => {
    const path = join(dir, 'archive.tar');
    const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(256 * 1024, i));
    await Promise.all(
      bodies.map((body) =>
        writeStreamAtomic(path, (out) => pipeline(Readable.from([body.subarray(0, 1000), body.subarray(1000)]), out)),
      ),
    );
    const result = readFileSync(path);
    expect(bodies.some((body) => body.equals(result))).toBe(true);
    expect(readdirSync(dir)).toEqual(['archive.tar']);
  });

  it('ends the stream itself when fill leaves it open', async () => {
    const path = join(dir, 'out');
    await writeStreamAtomic(path, async (out) => {
      out.write('left open');
    });
    expect(readFileSync(path, 'utf8')).toBe('left open');
  });

  it('a failing source leaves the old content and no temp file', async () => {
    const path = join(dir, 'out');
    writeFileSync(path, 'old');
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(writeStreamAtomic(path, (out) => pipeline(failing, out))).rejects.toThrow('connection reset');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('fillAtomic writes into a file opened before (so its open can fail apart)', async () => {
    const path = join(dir, 'later');
    const file = openAtomic(path, { mode: 0o644 });
    await fillAtomic(file, async (out) => {
      out.end('filled');
    });
    expect(readFileSync(path, 'utf8')).toBe('filled');
    expect(calls.filter((c) => c.call === 'fsync').map((c) => c.directory)).toEqual([false, true]);
  });
});

describe('renameDurably', () => {
  it('renames a directory into place and fsyncs the directory it landed in', () => {
    const from = join(dir, 'work');
    mkdirSync(from);
    mkdirSync(join(dir, 'layers'));
    renameDurably(from, join(dir, 'layers', 'abc'));
    expect(readdirSync(join(dir, 'layers'))).toEqual(['abc']);
    expect(calls.at(-1)).toEqual({ call: 'fsync', ino: statSync(join(dir, 'layers')).ino, directory: true });
  });
});

describe('createFileAtomic', () => {
  it('creates a missing file whole, and leaves an existing one as it is', () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const path = join(dir, 'oci-layout');
    expect(createFileAtomic(path, 'first', { tempDir: tmp })).toBe(true);
    expect(createFileAtomic(path, 'second', { tempDir: tmp })).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(readdirSync(tmp)).toEqual([]);
    expect(calls.filter((c) => c.call === 'fsync').map((c) => c.directory)).toEqual([false, true, false]);
  });
});
