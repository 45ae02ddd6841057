/**
 * The first bytes of a file, for sniffing what it is (a compression's magic,
 * a tar's ustar header) before choosing how to read the rest.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Up to length bytes from the start of the open file fd (fewer when it is shorter). */
export function readHeadFd(fd: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const n = readSync(fd, buffer, filled, length - filled, filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/** Up to length bytes from the start of the file at path (fewer when it is shorter). */
export function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return readHeadFd(fd, length);
  } finally {
    closeSync(fd);
  }
}
