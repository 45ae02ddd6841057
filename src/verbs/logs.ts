/**
 * `hutch logs [-f] [-t] [--tail N] [--since T] [--until T] CONTAINER`: the
 * container's log (src/run/container/logs.ts reads it) as the container wrote
 * it: stdout lines to the caller's stdout, stderr lines to its stderr,
 * partial entries joined; -f follows until the container has exited and its
 * monitor has written what was left in the pipes.
 */
import type { Writable } from 'node:stream';
import { openRuntime } from '../run/container/lifecycle.js';
import { logPath, noLogsError } from '../run/container/log-config.js';
import {
  fileId,
  finished,
  formatLogTimestamp,
  LogParser,
  LogReader,
  parseLogTime,
  type FileId,
  type LogLine,
} from '../run/container/logs.js';

export interface LogsFlags {
  container: string;
  follow: boolean;
  timestamps: boolean;
  /** -1: every line. */
  tail: number;
  since: string | undefined;
  until: string | undefined;
}

/** Writes with backpressure; false once the reader went away (EPIPE: `hutch logs … | head`). */
function write(stream: Writable, data: Buffer): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve(false);
  if (stream.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}

/** A closed stdout or stderr ends the command quietly, as a closed pipe ends `cat`. */
function quietOnClosedPipe(stream: Writable, closed: { value: boolean }): void {
  const onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed.value = true;
    stream.destroy();
  };
  stream.on('error', onError);
}

/** Writes the log's lines to out.stdout and out.stderr, as the container wrote them; with -f until it has exited. */
export async function logs(
  flags: LogsFlags,
  out: { stdout: Writable; stderr: Writable },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const since = flags.since === undefined ? undefined : parseLogTime('--since', flags.since);
  const until = flags.until === undefined ? undefined : parseLogTime('--until', flags.until);
  const runtime = await openRuntime(env);
  const container = runtime.containers.find(flags.container);
  const noLogs = noLogsError(container.config.options.log);
  if (noLogs !== undefined) throw noLogs;
  const path = logPath(container.config.options.log, container.dir) as string;
  const parser = new LogParser();
  const wanted = (line: LogLine) => {
    if (since === undefined && until === undefined) return true;
    const at = Date.parse(line.timestamp);
    return (since === undefined || at >= since) && (until === undefined || at <= until);
  };
  const print = async (line: LogLine) => {
    const prefix = flags.timestamps ? Buffer.from(`${formatLogTimestamp(line.timestamp)} `) : Buffer.alloc(0);
    const newline = line.complete ? Buffer.from('\n') : Buffer.alloc(0);
    if (closed.value) return;
    const ok = await write(
      line.stream === 'stdout' ? out.stdout : out.stderr,
      Buffer.concat([prefix, line.text, newline]),
    );
    if (!ok) closed.value = true;
  };
  const closed = { value: false };
  // Kept for the life of the process: an EPIPE may come after the last write returned.
  quietOnClosedPipe(out.stdout, closed);
  quietOnClosedPipe(out.stderr, closed);

  const reader = new LogReader(path);
  const readAll = (until?: FileId): LogLine[] => {
    const lines: LogLine[] = [];
    reader.read((chunk) => lines.push(...parser.feed(chunk)), until);
    return lines;
  };
  try {
    let first = readAll(flags.follow ? undefined : fileId(path));
    if (!flags.follow) first.push(...parser.end());
    first = first.filter(wanted);
    if (flags.tail >= 0) first = flags.tail === 0 ? [] : first.slice(-flags.tail);
    for (const line of first) await print(line);
    if (!flags.follow) return;
    const notRunningSince = { at: undefined as number | undefined };
    for (;;) {
      const done = finished(runtime.containers, container, notRunningSince);
      for (const line of readAll()) if (wanted(line)) await print(line);
      if (done || closed.value) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const line of parser.end()) if (wanted(line)) await print(line);
  } finally {
    reader.close();
  }
}
