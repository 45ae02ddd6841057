/**
 * The terminal side of an attached container: its output to ours, our input
 * to it (-i), raw mode and window size (-t), and signals proxied to it
 * (without -t; with -t, keys like Ctrl-C reach it through the terminal).
 */
import { HutchError } from '../../errors.js';
import type { AttachClient } from '../monitor.js';
import { signalContainer, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';

const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

/** Relays until the container exits; returns the status to exit with (128+N for signal N). */
export async function attach(
  runtime: Runtime,
  container: Container,
  client: AttachClient | undefined,
  options: { tty: boolean; interactive: boolean },
): Promise<number> {
  if (client === undefined) throw new HutchError('attach: no connection to the container');
  const stdin = process.stdin;
  const raw = options.tty && options.interactive && stdin.isTTY === true;
  const outputs = Promise.all([
    new Promise<void>((resolve) => client.stdout.on('end', resolve).pipe(process.stdout, { end: false })),
    new Promise<void>((resolve) => client.stderr.on('end', resolve).pipe(process.stderr, { end: false })),
  ]);
  const onData = (chunk: Buffer) => client.write(chunk);
  const onEnd = () => client.endInput();
  if (options.interactive) {
    stdin.on('data', onData);
    stdin.on('end', onEnd);
  }
  if (raw) stdin.setRawMode(true);
  const resize = () => {
    if (process.stdout.isTTY) client.resize(process.stdout.rows, process.stdout.columns);
  };
  if (options.tty) {
    resize();
    process.on('SIGWINCH', resize);
  }
  const proxies = new Map<NodeJS.Signals, () => void>();
  if (!raw) {
    for (const signal of PROXIED) {
      const handler = () => {
        const current = runtime.containers.read(container.config.id);
        if (current?.state.status === 'running') signalContainer(current, NUMBERS[signal] as number);
      };
      proxies.set(signal, handler);
      process.on(signal, handler);
    }
  }
  try {
    const status = await client.exit;
    // What the container wrote is all in already; give the pipes a moment to drain, no more.
    await Promise.race([outputs, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    return status.exitCode ?? 128 + (status.signal ?? 0);
  } finally {
    if (raw) stdin.setRawMode(false);
    if (options.interactive) {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    }
    process.off('SIGWINCH', resize);
    for (const [signal, handler] of proxies) process.off(signal, handler);
    client.close();
  }
}
