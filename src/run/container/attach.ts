/**
 * The terminal side of an attached container or exec session: its output to
 * ours, our input to it (-i), raw mode and window size (-t), and signals
 * proxied to it (without a raw terminal; with one, keys like Ctrl-C reach it
 * as input).
 */
import { HutchError } from '../../errors.js';
import { native } from '../../native.js';
import type { AttachClient } from '../monitor.js';
import { signalContainer, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

/**
 * Relays until the process exits; returns the status to exit with (128+N
 * for signal N). signal() receives the signals we get, to forward.
 */
export async function relay(
  client: AttachClient,
  options: { tty: boolean; interactive: boolean; signal: (signal: number) => void },
): Promise<number> {
  // process.stdin is made on first use (a stream, and node:fs's streams loaded): only with -i.
  const raw = options.tty && options.interactive && process.stdin.isTTY === true;
  const outputs = Promise.all([
    new Promise<void>((resolve) => client.stdout.on('end', resolve).pipe(process.stdout, { end: false })),
    new Promise<void>((resolve) => client.stderr.on('end', resolve).pipe(process.stderr, { end: false })),
  ]);
  const onData = (chunk: Buffer) => client.write(chunk);
  const onEnd = () => client.endInput();
  if (options.interactive) {
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  }
  // cfmakeraw, not node's raw mode, which keeps output processing: the
  // container's terminal already turned \n into \r\n.
  const saved = raw ? native.makeRaw(0) : undefined;
  const resize = () => {
    if (process.stdout.isTTY) client.resize(process.stdout.rows, process.stdout.columns);
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
    if (saved !== undefined) native.restoreTerminal(0, saved);
    if (options.interactive) {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
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
  options: { tty: boolean; interactive: boolean },
): Promise<number> {
  if (client === undefined) throw new HutchError('attach: no connection to the container');
  // With passthrough the container reads our stdin itself: reading it here would steal its input.
  const passthrough = container.config.options.log?.driver === 'passthrough';
  return relay(client, {
    ...options,
    interactive: options.interactive && !passthrough,
    signal: (signal) => {
      const current = runtime.containers.read(container.config.id);
      if (current?.state.status === 'running') signalContainer(current, signal);
    },
  });
}
