/**
 * Reading what `hutch logs` shows (src/verbs/logs.ts): the
 * container's log (ctr.log, podman's k8s-file format written by
 * hutch-monitor: `TIMESTAMP STREAM P|F TEXT`, P for a piece of a line the
 * next entry of the same stream continues) as the container wrote it: stdout
 * lines to stdout, stderr lines to stderr, partial entries joined.
 *
 * -f follows until the container has exited and its monitor has written what
 * was left in the pipes (its exit file, or the monitor gone). The text is kept
 * as bytes: a monitor read may end in the middle of a UTF-8 character.
 *
 * A log rotated by --log-opt max-size (native/monitor_io.h) is read across
 * its files, oldest first: ctr.log.N … ctr.log.1, then ctr.log; -f keeps its
 * place by inode through a rotation (see LogReader).
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HutchError } from '../../errors.js';
import { readExitFile } from '../monitor.js';
import type { Container, ContainerStore } from './store.js';

export interface LogLine {
  /** The timestamp of the line's first entry, as written. */
  timestamp: string;
  stream: 'stdout' | 'stderr';
  /** Without the newline. */
  text: Buffer;
  /** false for a last piece the container never finished (it exited mid-line). */
  complete: boolean;
}

/**
 * Parses ctr.log incrementally: feed() bytes as they come, take the complete
 * lines; end() gives what is left (unfinished lines of each stream).
 */
export class LogParser {
  private rest: Buffer = Buffer.alloc(0);
  private readonly partial = new Map<'stdout' | 'stderr', { timestamp: string; pieces: Buffer[] }>();

  feed(chunk: Buffer): LogLine[] {
    const data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    const lines: LogLine[] = [];
    let start = 0;
    for (;;) {
      const end = data.indexOf(0x0a, start);
      if (end < 0) break;
      const line = this.entry(data.subarray(start, end));
      if (line !== undefined) lines.push(line);
      start = end + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }

  /** Lines the log ends in the middle of (a container that exited without a final newline). */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    for (const [stream, { timestamp, pieces }] of this.partial) {
      lines.push({ timestamp, stream, text: Buffer.concat(pieces), complete: false });
    }
    this.partial.clear();
    return lines;
  }

  private entry(raw: Buffer): LogLine | undefined {
    // TIMESTAMP SP STREAM SP TAG [SP TEXT]
    const first = raw.indexOf(0x20);
    const second = first < 0 ? -1 : raw.indexOf(0x20, first + 1);
    if (first < 0 || second < 0) return undefined;
    const timestamp = raw.subarray(0, first).toString('latin1');
    const stream = raw.subarray(first + 1, second).toString('latin1');
    const third = raw.indexOf(0x20, second + 1);
    const tag = raw.subarray(second + 1, third < 0 ? raw.length : third).toString('latin1');
    if ((stream !== 'stdout' && stream !== 'stderr') || (tag !== 'P' && tag !== 'F')) return undefined;
    const text = third < 0 ? Buffer.alloc(0) : Buffer.from(raw.subarray(third + 1));
    const pending = this.partial.get(stream);
    if (tag === 'P') {
      if (pending === undefined) this.partial.set(stream, { timestamp, pieces: [text] });
      else pending.pieces.push(text);
      return undefined;
    }
    this.partial.delete(stream);
    if (pending === undefined) return { timestamp, stream, text, complete: true };
    return { timestamp: pending.timestamp, stream, text: Buffer.concat([...pending.pieces, text]), complete: true };
  }
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * --since/--until as podman takes them: a Go duration before now (10m,
 * 1h30m), Unix seconds (1700000000, 1700000000.5), or an RFC 3339 time or
 * date. Returns milliseconds since the epoch.
 */
export function parseLogTime(flag: string, value: string, now = Date.now()): number {
  const duration = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.exec(value);
  if (duration !== null) {
    let ms = 0;
    for (const part of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
      ms += Number(part[1]) * (DURATION_UNITS[part[2] as string] as number);
    }
    return now - ms;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(parsed)) {
    throw new HutchError(`parsing ${flag} ${JSON.stringify(value)}: unable to interpret time value`, {
      hint: 'give a duration (10m, 1h30m), Unix seconds, or an RFC 3339 time (2024-01-02T15:04:05Z)',
    });
  }
  return parsed;
}

/** The monitor's `2026-11-25T13:00:00.123456789+00:00` as podman prints it: RFC 3339, zeros of the fraction trimmed, Z for UTC. */
export function formatLogTimestamp(timestamp: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(timestamp);
  if (match === null) return timestamp;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  const zone = match[3] === '+00:00' || match[3] === '-00:00' ? 'Z' : (match[3] as string);
  return `${match[1]}${fraction === '' ? '' : `.${fraction}`}${zone}`;
}

const CHUNK = 64 * 1024;

/** The files of a log, oldest first: PATH.N … PATH.1, then PATH (those that exist now). */
export function logFiles(path: string): string[] {
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rotated: { index: number; name: string }[] = [];
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const suffix = name.slice(base.length + 1);
    if (/^[1-9]\d*$/.test(suffix)) rotated.push({ index: Number(suffix), name });
  }
  rotated.sort((a, b) => b.index - a.index);
  const files = rotated.map(({ name }) => join(dirname(path), name));
  if (names.includes(base)) files.push(path);
  return files;
}

export interface FileId {
  dev: bigint;
  ino: bigint;
}

/** Which file a path names now (undefined: none), to know it again after a rename. */
export function fileId(path: string): FileId | undefined {
  const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stat === undefined ? undefined : { dev: stat.dev, ino: stat.ino };
}

/**
 * Reads a log and the files it was rotated into, each byte once, oldest
 * first. The monitor rotates by rename only (ctr.log → ctr.log.1 → …, a new
 * ctr.log renamed into place), so the file being read keeps its inode: at its
 * end the reader lists the files again, finds its own by inode and goes on
 * with the next newer one. A file rotated past the last one kept is still
 * read to its end through the open fd; the reader then goes on with the
 * oldest file left. Only what a flood rotated away before it was read is
 * missed.
 */
export class LogReader {
  private fd: number | undefined;
  private id: FileId | undefined;
  private readonly buffer = Buffer.alloc(CHUNK);

  constructor(private readonly path: string) {}

  /**
   * Everything written since the last call, in order. until: stop at the end
   * of this file (`hutch logs` without -f reads what the log held when it
   * started, not a flood that goes on meanwhile).
   */
  read(onChunk: (chunk: Buffer) => void, until?: FileId): void {
    for (;;) {
      if (this.fd !== undefined) {
        for (;;) {
          const n = readSync(this.fd, this.buffer, 0, CHUNK, null);
          if (n === 0) break;
          onChunk(Buffer.from(this.buffer.subarray(0, n)));
        }
        if (until !== undefined && same(this.id, until)) return;
      }
      const files = logFiles(this.path)
        .map((path) => ({ path, id: fileId(path) }))
        .filter((file): file is { path: string; id: FileId } => file.id !== undefined);
      const at = this.fd === undefined ? -1 : files.findIndex((file) => same(file.id, this.id));
      // The newest file (or, mid-rotation, the newest left): wait for more.
      if (at >= 0 && at === files.length - 1) return;
      const next = files[at + 1];
      if (next === undefined) return;
      let fd: number;
      try {
        fd = openSync(next.path, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // rotated meanwhile: list again
        throw error;
      }
      const stat = fstatSync(fd, { bigint: true });
      if (stat.ino !== next.id.ino || stat.dev !== next.id.dev) {
        closeSync(fd); // rotated between the listing and the open: list again
        continue;
      }
      this.close();
      this.fd = fd;
      this.id = next.id;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function same(a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** Has the container stopped for good, with everything its monitor will write in the log? */
export function finished(
  containers: ContainerStore,
  container: Container,
  notRunningSince: { at: number | undefined },
): boolean {
  const current = containers.read(container.config.id);
  if (current === undefined) return true;
  if (current.state.status === 'running') {
    notRunningSince.at = undefined;
    return false;
  }
  if (current.state.status === 'created') return true;
  notRunningSince.at ??= Date.now();
  let exit;
  try {
    exit = readExitFile(current.runtimeDir);
  } catch {
    exit = undefined;
  }
  const startedAt = current.state.startedAt === undefined ? 0 : Date.parse(current.state.startedAt);
  if (exit !== undefined && Date.parse(exit.finishedAt) >= startedAt) return true;
  const monitor = current.state.monitorPid;
  if (monitor <= 0 || !existsSync(`/proc/${monitor}`)) return true;
  // The monitor gives attached clients up to 5 s before it writes the exit file.
  return Date.now() - notRunningSince.at > 6000;
}
