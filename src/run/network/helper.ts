/**
 * Helper processes that outlive the hutch command that starts them (a
 * container's slirp4netns or pasta, a network's namespace holder and its
 * slirp4netns): started in a session of their own with their output in a log
 * file, so they never hold the caller's terminal; recorded as pid plus start
 * time; stopped through a pidfd after the start time was checked, so a pid
 * the kernel handed to someone else since is never signalled, and nothing is
 * ever killed by name.
 */
import { liveProcessStartTime } from '../../host/proc.js';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { HutchError, SyscallError } from '../../errors.js';
import { native } from '../../native.js';

/** A helper as the state files record it. */
export interface HelperProcess {
  program: string;
  pid: number;
  /** /proc/PID/stat field 22 (clock ticks after boot), against pid reuse. */
  startTime: number;
  /** Its stdout and stderr. */
  log: string;
}

const SIGTERM = 15;
const SIGKILL = 9;

/** The start time of a live process (not a zombie); undefined when it is gone. */
export const startTimeOf = liveProcessStartTime;

export function isAlive(helper: { pid: number; startTime: number }): boolean {
  return helper.pid > 0 && startTimeOf(helper.pid) === helper.startTime;
}

/** The last lines of a helper's log, for an error message. */
export function logTail(path: string, lines = 3): string {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(
        (l) =>
          l !== '' && !/^(Failed to send \d+ bytes to syslog|WARNING: Support for seccomp is experimental)$/.test(l),
      )
      .slice(-lines)
      .join('; ');
  } catch {
    return '';
  }
}

export interface StartOptions {
  program: string;
  path: string;
  args: string[];
  log: string;
  /** Extra fds for the child from fd 3 on: 'pipe' (node reads its end) or an fd of ours. */
  fds?: ('pipe' | number)[];
  env?: NodeJS.ProcessEnv;
}

export interface Started {
  helper: HelperProcess;
  child: ChildProcess;
  /** The readable ends of 'pipe' fds, by child fd number. */
  pipes: Map<number, Readable>;
  /** Resolves with a description of how the child ended (while this process watches). */
  exited: Promise<string>;
}

/**
 * Spawns a helper in a new session with stdin on /dev/null and stdout and
 * stderr appended to its log. The caller waits for it to be ready, then calls
 * release(); on any failure, stopHelper().
 */
export async function startHelper(options: StartOptions): Promise<Started> {
  const logFd = openSync(options.log, 'a', 0o600);
  let child: ChildProcess;
  try {
    const stdio: StdioOptions = ['ignore', logFd, logFd, ...(options.fds ?? [])];
    child = spawn(options.path, options.args, {
      stdio,
      detached: true,
      env: options.env ?? process.env,
      argv0: options.program,
    });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) =>
      resolve(signal !== null ? `killed by ${signal}` : `exited with status ${code}`),
    );
    child.once('error', (error) => resolve(error.message));
  });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error));
  });
  if (spawned !== undefined) {
    const code = (spawned as NodeJS.ErrnoException).code;
    throw new HutchError(
      `cannot start ${options.program} (${options.path}): ${code === 'ENOENT' ? 'not found' : spawned.message}`,
      {
        hint:
          code === 'ENOENT' ? `install it (Debian/Ubuntu: apt-get install ${packageOf(options.program)})` : undefined,
      },
    );
  }
  const pid = child.pid as number;
  const startTime = startTimeOf(pid);
  const pipes = new Map<number, Readable>();
  (options.fds ?? []).forEach((fd, i) => {
    if (fd === 'pipe') pipes.set(i + 3, child.stdio[i + 3] as Readable);
  });
  if (startTime === undefined) {
    const how = await exited;
    throw new HutchError(`${options.program} ${how} at once${tailOf(options.log)}`);
  }
  return { helper: { program: options.program, pid, startTime, log: options.log }, child, pipes, exited };
}

function packageOf(program: string): string {
  return program === 'pasta' ? 'passt' : program === 'unshare' || program === 'nsenter' ? 'util-linux' : program;
}

function tailOf(log: string): string {
  const tail = logTail(log);
  return tail === '' ? '' : `: ${tail}`;
}

/** Lets this process exit while the helper runs on: no handle of it keeps node's event loop. */
export function release(started: Started): void {
  for (const pipe of started.pipes.values()) pipe.destroy();
  started.child.unref();
}

/**
 * Waits for the helper to say it is ready: `1` on a pipe (slirp4netns
 * --ready-fd), or a condition polled every few ms (which may throw to give
 * up). Fails with the helper's log when it exits first or the time runs out.
 */
export async function waitReady(
  started: Started,
  how: { pipe: number } | { poll: () => boolean },
  timeoutMs = 10_000,
): Promise<void> {
  const { helper } = started;
  let timer: NodeJS.Timeout | undefined;
  let interval: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HutchError(`${helper.program} was not ready after ${timeoutMs / 1000} s${tailOf(helper.log)}`)),
      timeoutMs,
    );
  });
  const died = started.exited.then((how) => {
    throw new HutchError(`${helper.program} ${how} before it was ready${tailOf(helper.log)}`);
  });
  const ready =
    'pipe' in how
      ? new Promise<void>((resolve, reject) => {
          const pipe = started.pipes.get(how.pipe) as Readable;
          let text = '';
          pipe.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            if (text.includes('1')) resolve();
          });
          pipe.once('end', () => {
            if (!text.includes('1'))
              reject(new HutchError(`${helper.program} closed its ready fd without a word${tailOf(helper.log)}`));
          });
          pipe.once('error', reject);
        })
      : new Promise<void>((resolve, reject) => {
          const check = () => {
            try {
              if (!how.poll()) return;
              resolve();
            } catch (error) {
              reject(error);
            }
            clearInterval(interval);
          };
          interval = setInterval(check, 5);
          check();
        });
  try {
    await Promise.race([ready, died, timeout]);
  } finally {
    clearTimeout(timer);
    clearInterval(interval);
    died.catch(() => undefined);
  }
}

/** Resolves once pid is gone (or only a zombie), polling /proc; false after timeoutMs. */
export async function waitGone(helper: { pid: number; startTime: number }, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(helper)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

/** Sends signal through a pidfd if pid still is the process that started at startTime. */
export function signalHelper(helper: { pid: number; startTime: number }, signal: number): boolean {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(helper.pid);
  } catch (error) {
    if (error instanceof SyscallError && (error.code === 'ESRCH' || error.code === 'EINVAL')) return false;
    throw error;
  }
  try {
    // The pidfd pins the process: if its start time matches now, the signal reaches that process.
    if (startTimeOf(helper.pid) !== helper.startTime) return false;
    native.pidfdSendSignal(pidfd, signal);
    return true;
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ESRCH') return false;
    throw error;
  } finally {
    closeSync(pidfd);
  }
}

/**
 * Stops a helper: SIGTERM, then SIGKILL after graceMs. Idempotent: a helper
 * that is gone (or whose pid now names another process) is left alone.
 */
export async function stopHelper(helper: { pid: number; startTime: number }, graceMs = 1000): Promise<void> {
  if (!signalHelper(helper, SIGTERM)) return;
  if (await waitGone(helper, graceMs)) return;
  signalHelper(helper, SIGKILL);
  await waitGone(helper, 5000);
}
