/**
 * The terminal side of an attached container or exec session: its output to
 * ours, our input to it (-i), raw mode and window size (-t), and signals
 * proxied to it (without a raw terminal; with one, keys like Ctrl-C reach it
 * as input).
 */
import type { Readable, Writable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { native } from '../../native.js';
import type { AttachClient } from '../monitor.js';
import { signalContainer, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';

/**
 * The caller's side of a container's I/O: where its output goes, where its
 * input comes from (read only with -i: a getter, as process.stdin is made on
 * first use) and the terminal that goes raw with -t -i. src/cli hands in the
 * process's own.
 */
export interface Stdio {
  readonly stdin: Readable & { isTTY?: boolean };
  /** The descriptor of stdin, put in raw mode for -t -i. */
  readonly stdinFd: number;
  readonly stdout: Writable & { isTTY?: boolean; rows?: number; columns?: number };
  readonly stderr: Writable;
}

/** The terminal's size when stdout is one, for a -t container. */
export function terminalSize(stdout: Stdio['stdout']): { rows: number; cols: number } | undefined {
  return stdout.isTTY === true ? { rows: stdout.rows ?? 0, cols: stdout.columns ?? 0 } : undefined;
}

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

/**
 * Relays until the process exits; returns the status to exit with (128+N
 * for signal N). signal() receives the signals we get, to forward.
 */
export async function relay(
  client: AttachClient,
  stdio: Stdio,
  options: { tty: boolean; interactive: boolean; signal: (signal: number) => void },
): Promise<number> {
  // process.stdin is made on first use (a stream, and node:fs's streams loaded): only with -i.
  const raw = options.tty && options.interactive && stdio.stdin.isTTY === true;
  const outputs = Promise.all([
    new Promise<void>((resolve) => client.stdout.on('end', resolve).pipe(stdio.stdout, { end: false })),
    new Promise<void>((resolve) => client.stderr.on('end', resolve).pipe(stdio.stderr, { end: false })),
  ]);
  const onData = (chunk: Buffer) => client.write(chunk);
  const onEnd = () => client.endInput();
  if (options.interactive) {
    stdio.stdin.on('data', onData);
    stdio.stdin.on('end', onEnd);
  }
  // cfmakeraw, not node's raw mode, which keeps output processing: the
  // container's terminal already turned \n into \r\n.
  const saved = raw ? native.makeRaw(stdio.stdinFd) : undefined;
  const resize = () => {
    const size = terminalSize(stdio.stdout);
    if (size !== undefined) client.resize(size.rows, size.cols);
  };
  if (options.tty) {
    resize();
    process.on('SIGWINCH', resize);
  }
  const proxies = new Map<NodeJS.Signals, () => void>();
  if (!raw) {
    for (const name of PROXIED) {
      const handler = () => options.signal(NUMBERS[name] as number);
      proxies.set(name, handler);
      process.on(name, handler);
    }
  }
  try {
    const status = await client.exit;
    // What the process wrote is all in already; give the streams a moment to drain, no more.
    await Promise.race([outputs, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    return status.exitCode ?? 128 + (status.signal ?? 0);
  } finally {
    if (saved !== undefined) native.restoreTerminal(stdio.stdinFd, saved);
    if (options.interactive) {
      stdio.stdin.off('data', onData);
      stdio.stdin.off('end', onEnd);
      stdio.stdin.pause();
    }
    process.off('SIGWINCH', resize);
    for (const [name, handler] of proxies) process.off(name, handler);
    client.close();
  }
}

/** relay() for a container started attached: signals go to its pid 1. */
export async function attach(
  runtime: Runtime,
  container: Container,
  client: AttachClient | undefined,
  stdio: Stdio,
  options: { tty: boolean; interactive: boolean },
): Promise<number> {
  if (client === undefined) throw new HutchError('attach: no connection to the container');
  // With passthrough the container reads our stdin itself: reading it here would steal its input.
  const passthrough = container.config.options.log?.driver === 'passthrough';
  return relay(client, stdio, {
    ...options,
    interactive: options.interactive && !passthrough,
    signal: (signal) => {
      const current = runtime.containers.read(container.config.id);
      if (current?.state.status === 'running') signalContainer(current, signal);
    },
  });
}
