/**
 * The use cases behind the container verbs the CLI maps (create, start, stop,
 * kill, rm, wait, ps, container cleanup), with podman's outputs: the names or
 * ids as given, one per line, on success.
 */
import { HutchError } from '../../errors.js';
import { attach } from './attach.js';
import {
  cleanupContainer,
  openRuntime,
  parseSignal,
  removeContainer,
  signalContainer,
  startContainer,
  stopContainer,
  waitForExit,
} from './lifecycle.js';
import { formatPs, psJson } from './ps.js';
import { createContainer, terminalSize, type CreateFlags } from './run.js';

export async function createOnly(flags: CreateFlags): Promise<string> {
  const runtime = await openRuntime();
  return (await createContainer(runtime, flags)).config.id;
}

/** Runs each name; reports every failure, fails with the first one after the rest were tried. */
async function each(names: string[], task: (name: string) => Promise<void>): Promise<void> {
  let first: unknown;
  for (const name of names) {
    try {
      await task(name);
    } catch (error) {
      if (first !== undefined) process.stderr.write(`Error: ${(error as Error).message}\n`);
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}

export async function startVerb(names: string[], options: { attach: boolean; interactive: boolean }): Promise<number> {
  const runtime = await openRuntime();
  if (options.attach) {
    if (names.length !== 1)
      throw new HutchError('you can only attach to one container', { hint: 'start one container with -a' });
    const container = runtime.containers.find(names[0] as string);
    const started = await startContainer(runtime, container, { attach: true, terminalSize: terminalSize() });
    const status = await attach(runtime, container, started.client, {
      tty: container.config.options.tty,
      interactive: options.interactive && container.config.options.interactive,
    });
    await cleanupContainer(runtime, container.config.id);
    return status;
  }
  await each(names, async (name) => {
    const container = runtime.containers.find(name);
    if (container.state.status !== 'running') await startContainer(runtime, container, { attach: false });
    process.stdout.write(`${name}\n`);
  });
  return 0;
}

export async function stopVerb(names: string[], timeoutSeconds: number | undefined): Promise<void> {
  const runtime = await openRuntime();
  await each(names, async (name) => {
    await stopContainer(runtime, runtime.containers.find(name), timeoutSeconds);
    process.stdout.write(`${name}\n`);
  });
}

export async function killVerb(names: string[], signal: string): Promise<void> {
  const number = parseSignal(signal);
  const runtime = await openRuntime();
  await each(names, async (name) => {
    signalContainer(runtime.containers.find(name), number);
    process.stdout.write(`${name}\n`);
  });
}

export async function removeVerb(
  names: string[],
  options: { force: boolean; all: boolean; volumes: boolean },
): Promise<void> {
  const runtime = await openRuntime();
  const targets = options.all ? runtime.containers.list().map((c) => c.config.id) : names;
  if (targets.length === 0 && !options.all)
    throw new HutchError('no containers given', { hint: 'hutch rm NAME…, or -a for all' });
  await each(targets, async (name) => {
    await removeContainer(runtime, runtime.containers.find(name), options);
    process.stdout.write(`${name}\n`);
  });
}

export async function waitVerb(names: string[]): Promise<void> {
  const runtime = await openRuntime();
  await each(names, async (name) => {
    const container = runtime.containers.find(name);
    const after = await waitForExit(runtime, container.config.id);
    process.stdout.write(`${after?.state.exitCode ?? -1}\n`);
  });
}

export async function psVerb(options: {
  all: boolean;
  quiet: boolean;
  noTrunc: boolean;
  format: string | undefined;
}): Promise<void> {
  if (options.format !== undefined && options.format !== 'json') {
    throw new HutchError(`unsupported --format ${options.format}`, { hint: 'use json' });
  }
  const runtime = await openRuntime();
  const containers = runtime.containers.list().filter((c) => options.all || c.state.status === 'running');
  if (options.format === 'json') {
    process.stdout.write(`${JSON.stringify(containers.map(psJson), null, 2)}\n`);
    return;
  }
  process.stdout.write(formatPs(containers, options));
}

export async function cleanupVerb(names: string[]): Promise<void> {
  const runtime = await openRuntime();
  await each(names, async (name) => {
    const found = runtime.containers.list().find((c) => c.config.id === name || c.config.name === name);
    // Gone already (removed by an attached client with --rm): nothing to clean.
    if (found !== undefined) await cleanupContainer(runtime, found.config.id);
  });
}
