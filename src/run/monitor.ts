/**
 * The parent's side of hutch-monitor (native/monitor.cc), the small process
 * that supervises one container: it clones the container to run a plan, stays
 * its parent, writes its output to the log and to attach clients, records its
 * exit status in DIR/exit and runs a cleanup command. The protocol is in
 * docs/monitor.md.
 *
 * One channel carries everything node learns before the container runs: the
 * plan's sync socket (native/sync.h), a SOCK_SEQPACKET socketpair made here
 * whose child end is the monitor's fd 4. The monitor reports its own refusal
 * or failure there, then the container's pid; it hands the fd to the child and
 * closes its own copy, so the child's failure records, "go" and the EOF at
 * execve travel between node and the child as they do for PlanChild. Both are
 * read by one class, PlanSync (src/host/plan-child.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { withContext } from '../errors.js';
import { native } from '../native.js';
import { packageRoot } from '../package.js';
import { PlanSync } from '../host/plan-child.js';
import { Clone, type Plan } from '../host/plan.js';

export interface MonitorOptions {
  /** The container id, for the monitor's messages. */
  id: string;
  /** Where monitor.pid, attach and exit go; must exist. */
  dir: string;
  /** The container log (k8s-file format), appended to; undefined: no log (the none and passthrough drivers). */
  log: string | undefined;
  /** Rotate the log before it passes maxSize bytes, keeping maxFiles files in all (native/monitor_io.h). */
  logRotation?: { maxSize: number; maxFiles: number };
  /** The container's stdin, stdout and stderr are ours (podman's passthrough log driver); excludes terminal and stdin. */
  passthrough?: boolean;
  /** Must expect the container's stdin/stdout/stderr on fds 3/4/5 (see addContainerStdio). */
  plan: Plan;
  /** CLONE_NEW* flags for the container. */
  cloneFlags: number;
  /** Enter this process's namespaces before cloning (hutch exec). */
  join?: number;
  /** A pseudo-terminal on the container's stdio. */
  terminal: boolean;
  /** Keep the container's stdin open for attach clients; else it is /dev/null. */
  stdin: boolean;
  /** New session, stdio on /dev/null once started: the monitor outlives its parent. */
  detach: boolean;
  /**
   * The container dies with this process (a build's RUN): the monitor gets one
   * end of a socket only we hold (fd 5, `--die-with-client`) and kills the
   * container at its EOF, however we die. StartedMonitor.release() lets it go.
   */
  dieWithClient?: boolean;
  /** Absolute path and arguments, exec'd by the monitor after the exit file is written. */
  exitCommand?: string[];
  /** --timeout: the monitor SIGKILLs the container this long after it started (its exit code is then -1). */
  timeoutSeconds?: number;
  /** A command the monitor runs every everyMs while the container runs (its healthcheck), one at a time. */
  periodic?: { everyMs: number; command: string[] };
  /**
   * --preserve-fds: our fds 3…3+N-1 reach the monitor as PRESERVED_FD… and the
   * plan (closeMonitorFds, addContainerStdio with the same count) puts them on
   * the container's 3…3+N-1.
   */
  preserveFds?: number;
}

export interface ExitStatus {
  exitCode: number | null;
  signal: number | null;
}

export interface StartedMonitor {
  monitorPid: number;
  containerPid: number;
  /** The container's plan: go(), done(), as with PlanChild. */
  sync: PlanSync;
  /** The monitor process (and its exit command, which replaces it) ended; only seen while we live. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** With dieWithClient: closes our end of that socket (call once the container has exited). */
  release(): void;
}

/** Attach frame types (docs/monitor.md): u8 type, u32 big-endian length, payload. */
export const Frame = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Exit: 3,
  StdinEof: 4,
  Resize: 5,
  CleanupTaken: 6,
  CleanupDone: 7,
} as const;

const PLAN_FD = 3;
/** With a terminal, the child's end of the socket its OpenConsole step sends the pty master on (native/monitor.cc). */
const CONSOLE_FD = 99;
const SYNC_FD = 4;
/**
 * --preserve-fds: the fds handed on reach the monitor from here up, which it
 * leaves alone (anything it opens lands above them), so the container's
 * child has them there at clone time.
 */
export const PRESERVED_FD = 6;
/** native/monitor_io.h kLogMaxFiles. */
const MAX_LOG_FILES = 1000;
/** With --die-with-client, the monitor's end of the socket only we hold. */
const CLIENT_FD = 5;
const FRAME_HEADER = 5;
/** The monitor refuses frames above 1 MiB; stdin goes in smaller ones. */
const MAX_STDIN_FRAME = 64 * 1024;
/** sun_path holds 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;
const CLONE_NEWTIME = 0x80;
const NAMESPACE_FLAGS = Object.values(Clone).reduce((all, flag) => all | flag, CLONE_NEWTIME);

/**
 * The first steps of every plan that enters a container, before it resolves
 * any path there: the monitor's own fds (its directory, log, sockets, the
 * host's /dev/null) are closed, or a link to /proc/self/fd/N in the container
 * would lead a chdir or an open to the host (CVE-2024-21626); its stdio
 * becomes the container's (fds 3-5 go onto 0-2, the pipes it made, or
 * /dev/null with a terminal). What stays open: 0-5, the console socket with a
 * terminal, and the sync socket, none of them a path on the host.
 */
export function closeMonitorFds(plan: Plan, options: { terminal: boolean; preserveFds?: number }): Plan {
  plan.closeFrom(PRESERVED_FD + (options.preserveFds ?? 0), { keep: options.terminal ? CONSOLE_FD : undefined });
  return plan.dup2(3, 0).dup2(4, 1).dup2(5, 2);
}

/**
 * Appends the steps that put the container's stdio in place: the monitor
 * leaves its stdin, stdout and stderr on fds 3, 4 and 5 (closeMonitorFds has
 * put them on 0-2 already); with a terminal the OpenConsole step puts there
 * the slave of a pty it makes in the current /dev/pts. Then nothing above 2
 * stays open but the sync socket, which closes at execve.
 */
export function addContainerStdio(plan: Plan, options: { terminal: boolean; preserveFds?: number }): Plan {
  // The pty is made where the plan is now (after pivot_root: the container's own /dev/pts).
  if (options.terminal) plan.openConsole(CONSOLE_FD).setsid();
  plan.dup2(3, 0).dup2(4, 1).dup2(5, 2);
  if (options.terminal) plan.setControllingTerminal(0);
  // In ascending order, each source is read before a later step writes over it (6+i -> 3+i).
  const preserved = options.preserveFds ?? 0;
  for (let i = 0; i < preserved; i++) plan.dup2(PRESERVED_FD + i, 3 + i);
  return plan.closeFrom(3 + preserved);
}

/** The monitor executable, built next to the addon by scripts/build-native.mjs. */
export function monitorPath(): string {
  const flavour = process.env.HUTCH_DEBUG_BUILD === '1' ? 'Debug' : 'Release';
  return join(packageRoot, 'build', flavour, 'hutch-monitor');
}

/** The monitor's argv (without argv[0]); the plan is on fd 3, the sync socket on fd 4. */
export function monitorArgs(options: MonitorOptions): string[] {
  if (!Number.isInteger(options.cloneFlags) || options.cloneFlags < 0 || options.cloneFlags & ~NAMESPACE_FLAGS) {
    throw new TypeError('startMonitor: only namespace clone flags are accepted');
  }
  const args = ['--id', options.id, '--dir', options.dir];
  if (options.log !== undefined) args.push('--log', options.log);
  const rotation = options.logRotation;
  if (rotation !== undefined) {
    if (options.log === undefined) throw new TypeError('startMonitor: log rotation needs a log');
    if (!Number.isSafeInteger(rotation.maxSize) || rotation.maxSize < 1) {
      throw new TypeError(`startMonitor: bad log size ${rotation.maxSize}`);
    }
    if (!Number.isInteger(rotation.maxFiles) || rotation.maxFiles < 1 || rotation.maxFiles > MAX_LOG_FILES) {
      throw new TypeError(`startMonitor: bad log file count ${rotation.maxFiles}`);
    }
    args.push('--log-size-max', String(rotation.maxSize), '--log-max-files', String(rotation.maxFiles));
  }
  args.push('--plan-fd', String(PLAN_FD), '--sync-fd', String(SYNC_FD));
  if (options.passthrough === true) {
    if (options.terminal || options.stdin) throw new TypeError('startMonitor: passthrough excludes terminal and stdin');
    args.push('--stdio-fd', String(PRESERVED_FD + (options.preserveFds ?? 0)));
  }
  if (options.cloneFlags !== 0) args.push('--clone-flags', String(options.cloneFlags));
  if (options.join !== undefined) args.push('--join', String(options.join));
  if (options.terminal) args.push('--terminal');
  if (options.stdin) args.push('--stdin');
  if (options.detach) args.push('--detach');
  if (options.dieWithClient === true) args.push('--die-with-client', String(CLIENT_FD));
  if (options.timeoutSeconds !== undefined) {
    if (!Number.isInteger(options.timeoutSeconds) || options.timeoutSeconds < 1) {
      throw new TypeError(`startMonitor: bad timeout ${options.timeoutSeconds}`);
    }
    args.push('--timeout', String(options.timeoutSeconds));
  }
  if (options.periodic !== undefined) {
    const { everyMs, command } = options.periodic;
    if (!Number.isInteger(everyMs) || everyMs < 1) throw new TypeError(`startMonitor: bad period ${everyMs}`);
    if (!command[0]?.startsWith('/')) {
      throw new TypeError(`the periodic command must be an absolute path: ${command[0]}`);
    }
    args.push('--periodic-ms', String(everyMs));
    for (const arg of command) args.push('--periodic-arg', arg);
  }
  if (options.exitCommand !== undefined && options.exitCommand.length > 0) {
    if (!options.exitCommand[0]?.startsWith('/')) {
      throw new TypeError(`the exit command must be an absolute path: ${options.exitCommand[0]}`);
    }
    args.push('--exit-command', ...options.exitCommand);
  }
  return args;
}

/**
 * Spawns hutch-monitor and waits for its word on the sync socket: the
 * container is cloned and runs its plan (held at its first WaitParent step,
 * if any, until sync.go()). Throws the SyscallError of a failed setup step, a
 * TypeError for arguments or a plan the monitor refused. Neither the monitor
 * nor its pipes keep node's event loop alive; the attach socket does, while open.
 */
export async function startMonitor(options: MonitorOptions): Promise<StartedMonitor> {
  const args = monitorArgs(options);
  const encoded = options.plan.encode();
  const path = monitorPath();
  const { parentFd, childFd } = native.syncSocketpair();
  const sync = new PlanSync(options.plan, parentFd);
  // fd 4: the sync socket; 5: the socket of --die-with-client; from 6: our 3… with
  // --preserve-fds, then our 0-2 with passthrough.
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe', 'pipe', childFd];
  stdio.push(options.dieWithClient === true ? 'pipe' : 'ignore');
  for (let i = 0; i < (options.preserveFds ?? 0); i++) stdio.push(3 + i);
  if (options.passthrough === true) stdio.push(0, 1, 2);
  let child: ChildProcess;
  try {
    child = spawn(path, args, { stdio });
  } catch (error) {
    sync.close();
    throw error;
  } finally {
    // The monitor has its copy: EOF comes once it and the container let go of theirs.
    closeSync(childFd);
  }
  // Never written to nor read: its EOF at our death is the message. Unref'd, not destroyed.
  const clientSocket = options.dieWithClient === true ? ((child.stdio as unknown[])[CLIENT_FD] as Socket) : undefined;
  clientSocket?.unref();
  clientSocket?.on('error', () => undefined);
  const stdout = child.stdio[1] as Readable;
  const stderr = child.stdio[2] as Readable;
  const planPipe = child.stdio[PLAN_FD] as Writable;

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(withContext('monitor', `start ${path}`, error)));
  });
  spawnFailed.catch(() => undefined);
  // EPIPE here means the monitor quit before reading: its record or status says why.
  planPipe.on('error', () => undefined);
  planPipe.end(encoded);
  // For a person, and for the message when the monitor ends without a record (it crashed).
  let diagnostics = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => {
    if (diagnostics.length < 64 * 1024) diagnostics += text;
  });
  // Not part of the protocol; the exit command may write there later: nobody reads it.
  stdout.resume();

  // No race with spawnFailed: a monitor that did not start holds no copy of the socket, so started() sees EOF.
  let containerPid: number | null;
  try {
    containerPid = await sync.started();
  } catch (error) {
    sync.close();
    clientSocket?.destroy();
    // It exits right after its record: let it be gone, as when it ends without one.
    await Promise.race([exited, spawnFailed]).catch(() => undefined);
    throw error;
  }
  if (containerPid === null) {
    clientSocket?.destroy();
    const status = await Promise.race([exited, spawnFailed]);
    const message = diagnostics.trim().replace(/^hutch-monitor: /, '');
    throw new Error(`hutch-monitor exited with status ${status.code}${message === '' ? '' : `: ${message}`}`);
  }
  if (child.pid === undefined || !Number.isInteger(containerPid) || containerPid <= 0) {
    sync.close();
    clientSocket?.destroy();
    throw new Error(
      `start hutch-monitor: it reported ${containerPid} as the container's pid, which is not a process id`,
    );
  }
  child.unref();
  for (const stream of [stdout, stderr] as Socket[]) stream.unref();
  return {
    monitorPid: child.pid,
    containerPid,
    sync,
    exited,
    release: () => clientSocket?.destroy(),
  };
}

/**
 * A connection to DIR/attach: the container's output as it comes (nothing of
 * what was written before we connected; that is in the log), its stdin and
 * terminal size, and its exit status. Output is not flow-controlled here: a
 * consumer that stops reading makes the streams buffer.
 */
export class AttachClient {
  readonly stdout: Readable = new PassThrough();
  readonly stderr: Readable = new PassThrough();
  readonly exit: Promise<ExitStatus>;
  private pending: Buffer = Buffer.alloc(0);
  private settle: ((status: ExitStatus | Error) => void) | undefined;
  private cleanupTaken = false;

  private constructor(
    private readonly socket: Socket,
    private readonly dir: string,
  ) {
    this.exit = new Promise<ExitStatus>((resolve, reject) => {
      this.settle = (status) => (status instanceof Error ? reject(status) : resolve(status));
    });
    this.exit.catch(() => undefined);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('close', () => this.closed());
    // ECONNRESET once the monitor is gone: handled as a close.
    socket.on('error', () => undefined);
  }

  /** Connects to DIR/attach; the socket exists from before the container is cloned until after it exited. */
  static async connect(dir: string): Promise<AttachClient> {
    const path = join(dir, 'attach');
    let dirFd: number | undefined;
    let target = path;
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
      target = `/proc/self/fd/${dirFd}/attach`;
    }
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect(target);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
      return new AttachClient(socket, dir);
    } finally {
      if (dirFd !== undefined) closeSync(dirFd);
    }
  }

  /** Sends data to the container's stdin (ignored unless the monitor runs with --stdin). */
  write(data: Buffer | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let at = 0; at < bytes.length; at += MAX_STDIN_FRAME) {
      this.send(Frame.Stdin, bytes.subarray(at, at + MAX_STDIN_FRAME));
    }
  }

  /** Closes the container's stdin once what was written reached it (a terminal gets its EOF character). */
  endInput(): void {
    this.send(Frame.StdinEof, Buffer.alloc(0));
  }

  /** Sets the terminal's size (TIOCSWINSZ); ignored without --terminal. */
  resize(rows: number, cols: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt16BE(rows, 0);
    payload.writeUInt16BE(cols, 2);
    this.send(Frame.Resize, payload);
  }

  /**
   * Tells the monitor that this client cleans up after the container (before
   * it is let go): the monitor then skips its exit command, a second node
   * start-up, once cleanupDone() says so, and runs it if this client goes
   * away without saying so.
   */
  takeCleanup(): void {
    this.cleanupTaken = true;
    this.send(Frame.CleanupTaken, Buffer.alloc(0));
  }

  /** The cleanup this client took is done; closes the connection. */
  cleanupDone(): void {
    this.send(Frame.CleanupDone, Buffer.alloc(0));
    this.socket.ref();
    this.socket.end();
  }

  /** Closes; a client that took the cleanup stays connected (without holding node) until cleanupDone() or exit. */
  close(): void {
    if (this.cleanupTaken) {
      this.socket.unref();
      return;
    }
    this.socket.destroy();
  }

  private send(type: number, payload: Buffer): void {
    if (this.socket.destroyed) return;
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUInt8(type, 0);
    header.writeUInt32BE(payload.length, 1);
    this.socket.write(Buffer.concat([header, payload]));
  }

  private received(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= FRAME_HEADER) {
      const size = this.pending.readUInt32BE(1);
      if (this.pending.length < FRAME_HEADER + size) break;
      const type = this.pending.readUInt8(0);
      const payload = this.pending.subarray(FRAME_HEADER, FRAME_HEADER + size);
      this.pending = this.pending.subarray(FRAME_HEADER + size);
      if (type === Frame.Stdout) (this.stdout as PassThrough).write(payload);
      else if (type === Frame.Stderr) (this.stderr as PassThrough).write(payload);
      else if (type === Frame.Exit) this.exited(parseStatus(payload.toString('utf8')));
    }
  }

  private exited(status: ExitStatus | Error): void {
    this.settle?.(status);
    this.settle = undefined;
    (this.stdout as PassThrough).end();
    (this.stderr as PassThrough).end();
  }

  private closed(): void {
    if (this.settle === undefined) return;
    // Dropped (too slow) or the monitor died: the exit file may still know.
    let recorded: ExitStatus | Error;
    try {
      const file = readExitFile(this.dir);
      recorded =
        file === undefined
          ? new Error('hutch-monitor closed the attach socket without an exit status')
          : { exitCode: file.exitCode, signal: file.signal };
    } catch (error) {
      recorded = error instanceof Error ? error : new Error(String(error));
    }
    this.exited(recorded);
  }
}

/** DIR/exit, written atomically by the monitor once the container exited; undefined before. */
export function readExitFile(
  dir: string,
): { exitCode: number | null; signal: number | null; finishedAt: string } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'exit'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const status = parseStatus(text);
  if (status instanceof Error) throw withContext('monitor', `read ${join(dir, 'exit')}`, status);
  const finishedAt = (JSON.parse(text) as { finishedAt?: unknown }).finishedAt;
  if (typeof finishedAt !== 'string') {
    throw new Error(`${join(dir, 'exit')}: finishedAt is missing`);
  }
  return { ...status, finishedAt };
}

function parseStatus(text: string): ExitStatus | Error {
  try {
    const value = JSON.parse(text) as { exitCode?: unknown; signal?: unknown };
    const exitCode = value.exitCode;
    const signal = value.signal;
    if ((exitCode === null || typeof exitCode === 'number') && (signal === null || typeof signal === 'number')) {
      return { exitCode, signal };
    }
  } catch {
    // reported below
  }
  return new Error(`bad exit status from hutch-monitor: ${JSON.stringify(text)}`);
}
