/**
 * Layer (de)compression as streams. gzip uses zlib (on libuv's thread pool), or
 * pigz on every core when it is installed; zstd uses Debian's zstd program
 * through pipes (zstd-codec, the WebAssembly build, aborts out of memory above a
 * few MB). A program's stream owns its child: destroying the stream kills and
 * reaps it, and a non-zero exit becomes the stream's error.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { HutchError } from '../../errors.js';
import type { Compression } from '../media.js';

/** How a layer blob is compressed, from its first bytes (at least 4). */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** From this compressed size on, gzip is worth a pigz process: it inflates about twice as fast as zlib here. */
const PIGZ_FROM_BYTES = 8 * 1024 * 1024;

/**
 * Decompresses what is written into what is read. Throws a HutchError at once
 * when zstd is needed and not installed. A gzip stream known to be large
 * (`size`, the compressed bytes) goes through pigz when it is installed;
 * what the output must hash to is checked by the caller either way.
 */
export function decompressStream(compression: Compression, options: { size?: number } = {}): Duplex {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip': {
      const pigz = (options.size ?? 0) >= PIGZ_FROM_BYTES ? findProgram('pigz') : undefined;
      return pigz === undefined ? createGunzip() : new ProgramStream('pigz', pigz, ['-d', '-c']);
    }
    case 'zstd':
      return new ProgramStream('zstd', requireProgram('zstd', 'zstd'), ['-d', '-c', '-q']);
  }
}

/**
 * bzip2 and xz, which no layer uses but ADD unpacks as Docker does, through
 * Debian's programs (bzip2, xz-utils).
 */
export function decompressArchiveStream(format: 'bzip2' | 'xz'): Duplex {
  return format === 'xz'
    ? new ProgramStream('xz', requireProgram('xz', 'xz-utils', 'the xz archives ADD unpacks'), ['-d', '-c', '-q'])
    : new ProgramStream('bzip2', requireProgram('bzip2', 'bzip2', 'the bzip2 archives ADD unpacks'), [
        '-d',
        '-c',
        '-q',
      ]);
}

/** How a tar archive may be compressed: a layer's compressions, and bzip2 and xz (podman cp takes all four). */
export type ArchiveCompression = Compression | 'bzip2' | 'xz';

/** An archive's compression, from its first bytes (at least 6). */
export function detectArchiveCompression(head: Buffer): ArchiveCompression {
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return detectCompression(head);
}

/** Decompresses an archive of any ArchiveCompression. */
export function decompressArchive(compression: ArchiveCompression): Duplex {
  return compression === 'bzip2' || compression === 'xz'
    ? decompressArchiveStream(compression)
    : decompressStream(compression);
}

/**
 * Compresses what is written into what is read. gzip: level 1–9 (6 by default);
 * zstd: level 1–19 (3 by default), on every core. pigz and zlib give different
 * bytes for the same input, so a layer's compressed digest depends on whether
 * pigz is installed (its diff id, the digest of the tar, does not).
 */
export function compressStream(compression: Compression, options: { level?: number } = {}): Duplex {
  switch (compression) {
    case 'none':
      return new PassThrough();
    case 'gzip': {
      const level = checkLevel('gzip', options.level ?? 6, 9);
      const pigz = findProgram('pigz');
      // -n: no name and no timestamp in the header, so equal tars give equal blobs.
      if (pigz !== undefined) return new ProgramStream('pigz', pigz, ['-c', '-n', `-${level}`]);
      return createGzip({ level });
    }
    case 'zstd': {
      const level = checkLevel('zstd', options.level ?? 3, 19);
      return new ProgramStream('zstd', requireProgram('zstd', 'zstd'), ['-c', '-T0', '-q', `-${level}`]);
    }
  }
}

function checkLevel(compression: Compression, level: number, max: number): number {
  if (!Number.isInteger(level) || level < 1 || level > max) {
    throw new HutchError(`${compression} compression level ${level} is out of range (1 to ${max})`);
  }
  return level;
}

const found = new Map<string, string | undefined>();

/** The program's path on $PATH, looked up once per PATH value. */
function findProgram(name: string): string | undefined {
  const pathVar = process.env.PATH ?? '';
  const key = `${name}\0${pathVar}`;
  if (found.has(key)) return found.get(key);
  let path: string | undefined;
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (!statSync(candidate).isFile()) continue;
      path = candidate;
      break;
    } catch {
      // not in this directory
    }
  }
  found.set(key, path);
  return path;
}

function requireProgram(name: string, debianPackage: string, what = `${name} layers`): string {
  const path = findProgram(name);
  if (path === undefined) throw missingProgram(name, debianPackage, what);
  return path;
}

function missingProgram(name: string, debianPackage: string, what = `${name} layers`): HutchError {
  return new HutchError(`${name} not found on PATH: hutch runs it to (de)compress ${what}`, {
    hint: `install the ${debianPackage} package (Debian/Ubuntu: sudo apt-get install ${debianPackage}; Fedora: sudo dnf install ${debianPackage})`,
  });
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * A filter program as a Duplex: writes go to its stdin, its stdout is read,
 * with backpressure both ways. The readable side ends only when the program
 * exited with status 0; any other end is an error carrying the first line of
 * its stderr. _destroy() kills the program and calls back once it was reaped,
 * so when the stream emits 'close' no child is left.
 */
class ProgramStream extends Duplex {
  private readonly child: Child;
  private stderrText = '';
  private exited = false;
  private stdinClosed = false;
  /** A write waiting for stdin to drain. */
  private pendingWrite: ((error?: Error | null) => void) | undefined;
  private readonly whenExited: Promise<void>;

  constructor(
    private readonly program: string,
    path: string,
    args: string[],
  ) {
    super();
    this.child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const { stdin, stdout, stderr } = this.child;
    this.whenExited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.exited = true;
        resolve();
      });
      // A child that never started emits 'error' and no 'exit'.
      this.child.once('error', () => resolve());
    });

    stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stdout.pause();
    });
    stderr.setEncoding('utf8');
    stderr.on('data', (text: string) => {
      if (this.stderrText.length < 4096) this.stderrText += text;
    });
    stdin.on('drain', () => this.releaseWrite());
    stdin.on('error', (error: NodeJS.ErrnoException) => {
      // The program closed its input (it failed, or stopped reading): its exit
      // status says why, and the rest of our input is dropped.
      this.stdinClosed = true;
      this.releaseWrite();
      if (error.code !== 'EPIPE') this.destroy(error);
    });
    stdout.on('error', (error) => this.destroy(error));
    this.child.on('error', (error: NodeJS.ErrnoException) => {
      this.destroy(error.code === 'ENOENT' ? missingProgram(program, program) : error);
    });
    this.child.on('close', (code, signal) => {
      if (this.destroyed) return;
      if (code === 0) {
        this.push(null);
        return;
      }
      const line = this.stderrText
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l !== '');
      const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
      this.destroy(new HutchError(`${this.program} ${how}${line === undefined ? '' : `: ${line}`}`));
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.stdinClosed) {
      callback();
      return;
    }
    if (this.child.stdin.write(chunk)) callback();
    else this.pendingWrite = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.stdinClosed) this.child.stdin.end();
    callback();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.exited && this.child.pid !== undefined) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    // Node reaps the child before it emits 'exit'.
    void this.whenExited.then(() => callback(error));
  }

  private releaseWrite(): void {
    const callback = this.pendingWrite;
    this.pendingWrite = undefined;
    callback?.();
  }
}
