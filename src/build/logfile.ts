/**
 * podman build --logfile: the build's lines (and the final id) go to a file
 * instead of the caller's stdout and stderr. The file is opened (created,
 * truncated, 0600) before the build starts, so a path that cannot be written
 * is refused with podman's words before any step.
 */
import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { getSystemErrorMap } from 'node:util';
import { HutchError } from '../errors.js';

export function openLogfile(path: string): Writable {
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).errno;
    const reason = (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? (error as Error).message;
    throw new HutchError(`open ${path}: ${reason}`, { hint: 'give --logfile a path in a directory you can write' });
  }
  return createWriteStream('', { fd });
}

/** Ends the log: resolves once what was written is in the file. */
export function closeLogfile(stream: Writable): Promise<void> {
  return new Promise<void>((resolve) => stream.end(resolve));
}
