/**
 * Replacing a file atomically: readers see the old content or the new, never
 * a part, and after a crash the file holds one of them too. The content goes
 * to a temp file of a unique name (pid + random, created O_EXCL, so two
 * writers of one file, in one process or two, never share one), is fsynced,
 * renamed over the target (rename(2) is atomic), and the directory is fsynced
 * so the rename itself survives a crash (fsync(2): "Calling fsync() does not
 * necessarily ensure that the entry in the directory containing the file has
 * also reached disk. For that an explicit fsync() on a file descriptor for
 * the directory is also needed.").
 *
 * The temp file lives beside the target (the same file system, which rename
 * needs), hidden (`.NAME.PID-RANDOM.tmp`); or, with `tempDir`, in a store's
 * tmp/ as an entry flocked by its writer (createTempFile), so that `system
 * check` never takes live work for a dead command's leftover.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  write,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createTempFile } from './lock.js';

export interface AtomicWriteOptions {
  /**
   * The file's mode. Beside the target: the mode a new file is created with
   * (umask applies), 0o666 by default as for writeFileSync. In tempDir: set
   * exactly (fchmod), else createTempFile's 0o644.
   */
  mode?: number;
  /** Make the temp file in this directory (on the target's file system), flocked while written. */
  tempDir?: string;
  /**
   * false: atomic but not durable (no fsync of the file or the directory). For
   * state that is reconciled with the kernel on every read, such as a
   * container's state.json, rewritten several times on each start: after a
   * crash it is stale anyway, and two fsyncs per write cost the start its speed.
   */
  durable?: boolean;
}

/** A temp file being written, to be renamed over its target (commit) or removed (discard). */
export interface PendingFile {
  /** The temp file's path. */
  readonly path: string;
  /** Open for writing until commit or discard. */
  readonly fd: number;
  /**
   * fsync, close, rename over the target, fsync the target's directory. On a
   * failure the temp file is removed and the error thrown; the target keeps
   * its old content (or stays missing).
   */
  commit(): void;
  /**
   * commit() that never replaces: link(2)s the temp file to the target, which
   * fails with EEXIST when the target exists; false then (the temp file is
   * removed either way).
   */
  commitNew(): boolean;
  /** Closes and removes the temp file. Idempotent; does nothing after commit. */
  discard(): void;
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

/**
 * Renames from over to and fsyncs to's directory: from is a complete file or
 * directory (fsynced already when it matters), on to's file system.
 */
export function renameDurably(from: string, to: string): void {
  renameSync(from, to);
  fsyncDir(dirname(to));
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

function openBeside(target: string, mode: number): { path: string; fd: number; release: () => void } {
  for (let attempt = 0; ; attempt++) {
    const path = join(dirname(target), `.${basename(target)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fd = openSync(path, CREATE, mode);
      return { path, fd, release: () => closeSync(fd) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw error;
    }
  }
}

/** Starts an atomic replacement of target: write to `fd`, then commit() or discard(). */
export function openAtomic(target: string, options: AtomicWriteOptions = {}): PendingFile {
  let temp: { path: string; fd: number; release: () => void };
  if (options.tempDir === undefined) {
    temp = openBeside(target, options.mode ?? 0o666);
  } else {
    temp = createTempFile(options.tempDir, `${basename(target)}-`);
    if (options.mode !== undefined) {
      try {
        fchmodSync(temp.fd, options.mode);
      } catch (error) {
        rmSync(temp.path, { force: true });
        temp.release();
        throw error;
      }
    }
  }
  const durable = options.durable !== false;
  let open = true;
  // Closes the fd (for a store's temp entry, dropping its flock).
  const close = () => temp.release();
  return {
    path: temp.path,
    fd: temp.fd,
    commit() {
      if (!open) return;
      open = false;
      try {
        if (durable) fsyncSync(temp.fd);
        renameSync(temp.path, target);
      } catch (error) {
        // Removed while still flocked: a store's temp entry is never seen unowned.
        rmSync(temp.path, { force: true });
        close();
        throw error;
      }
      close();
      if (durable) fsyncDir(dirname(target));
    },
    commitNew() {
      if (!open) return false;
      open = false;
      let created = true;
      try {
        if (durable) fsyncSync(temp.fd);
        linkSync(temp.path, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          rmSync(temp.path, { force: true });
          close();
          throw error;
        }
        created = false;
      }
      rmSync(temp.path, { force: true });
      close();
      if (created && durable) fsyncDir(dirname(target));
      return created;
    },
    discard() {
      if (!open) return;
      open = false;
      rmSync(temp.path, { force: true });
      close();
    },
  };
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  let written = 0;
  while (written < body.length) written += writeSync(fd, body, written, body.length - written);
}

/** Replaces target's content with data, atomically and durably (see the module's comment). */
export function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const file = openAtomic(target, options);
  try {
    writeAll(file.fd, data);
  } catch (error) {
    file.discard();
    throw error;
  }
  file.commit();
}

/**
 * Creates target with data unless it exists, atomically (a reader never sees
 * it partly written) and durably. false when target existed: left as it was.
 */
export function createFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): boolean {
  const file = openAtomic(target, options);
  try {
    writeAll(file.fd, data);
  } catch (error) {
    file.discard();
    throw error;
  }
  return file.commitNew();
}

/**
 * A stream writing to fd, at its current position, that never closes it:
 * createWriteStream closes its fd when destroyed, even with autoClose false
 * (and pipeline destroys on a failure), so the owner's later close could hit
 * an fd number reused meanwhile. Destroying waits for a write in flight, so
 * that once the stream has closed no write to the fd is pending.
 */
export function fdSink(fd: number): Writable {
  let busy = false;
  let whenIdle: (() => void) | undefined;
  const writeAll = (chunk: Buffer, callback: (error?: Error | null) => void, offset = 0): void => {
    busy = true;
    write(fd, chunk, offset, chunk.length - offset, null, (error, n) => {
      if (!error && offset + n < chunk.length) {
        writeAll(chunk, callback, offset + n);
        return;
      }
      busy = false;
      whenIdle?.();
      whenIdle = undefined;
      callback(error);
    });
  };
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => writeAll(chunk, callback),
    destroy: (error, callback) => {
      if (busy) whenIdle = () => callback(error);
      else callback(error);
    },
  });
}

/**
 * writeFileAtomic for content that streams: fill writes into `out` (ending it,
 * or leaving that to this function); once out has finished, the file is
 * committed. When fill or the stream fails, the temp file is removed, the
 * target untouched, and the error thrown.
 */
export async function writeStreamAtomic(
  target: string,
  fill: (out: Writable) => Promise<unknown>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await fillAtomic(openAtomic(target, options), fill);
}

/** writeStreamAtomic into a file openAtomic opened already (to report a failing open apart). */
export async function fillAtomic(file: PendingFile, fill: (out: Writable) => Promise<unknown>): Promise<void> {
  const out = fdSink(file.fd);
  // A failing write is thrown below, not left to crash the process as an unhandled 'error'.
  out.on('error', () => undefined);
  try {
    await fill(out);
    if (!out.writableEnded) out.end();
    await finished(out);
  } catch (error) {
    if (!out.closed) {
      const closed = new Promise((resolve) => out.once('close', resolve));
      out.destroy();
      await closed;
    }
    file.discard();
    throw error;
  }
  file.commit();
}
