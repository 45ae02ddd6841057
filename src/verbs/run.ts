/**
 * `hutch run`: create a container, start it, and either leave it running
 * (detached: its id comes back, none for the passthrough log driver, whose
 * output is ours) or relay its I/O to stdio until it exits (its status comes
 * back).
 */
import { attach, terminalSize, type Stdio } from '../run/container/attach.js';
import { createContainer, type CreateReporting, type RunFlags } from '../run/container/create.js';
import { cleanupContainer, openRuntime, startContainer } from '../run/container/lifecycle.js';

export type RunOutcome = { detached: string | undefined } | { status: number };

export async function run(
  flags: RunFlags,
  stdio: Stdio,
  reporting: CreateReporting,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunOutcome> {
  const runtime = await openRuntime(env);
  const container = await createContainer(runtime, flags, reporting, env);
  let started;
  try {
    started = await startContainer(runtime, container, {
      attach: !flags.detach,
      terminalSize: terminalSize(stdio.stdout),
      takeCleanup: !flags.detach,
    });
  } catch (error) {
    await cleanupContainer(runtime, container.config.id).catch(() => undefined);
    throw error;
  }
  if (flags.detach) {
    // podman prints no id for passthrough: the container's output goes to our stdout.
    return { detached: container.config.options.log?.driver !== 'passthrough' ? container.config.id : undefined };
  }
  const status = await attach(runtime, container, started.client, stdio, {
    tty: flags.tty,
    interactive: flags.interactive,
  });
  await cleanupContainer(runtime, container.config.id);
  started.client?.cleanupDone();
  return { status };
}
