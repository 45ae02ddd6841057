/**
 * `hutch run`: create a container, start it, and either leave it running
 * (detached: its id comes back, none for the passthrough log driver, whose
 * output is ours) or relay its I/O to stdio until it exits (its status comes
 * back). With -a, only the streams named are relayed; with none of stdout
 * and stderr, the id is printed first, as podman does.
 */
import { Writable } from 'node:stream';
import { HutchError } from '../errors.js';
import { isInheritedFd } from '../host/inherited-fds.js';
import { attach, terminalSize, type Stdio } from '../run/container/attach.js';
import { createContainer, type CreateReporting, type RunFlags } from '../run/container/create.js';
import { cleanupContainer, openRuntime, startContainer } from '../run/container/lifecycle.js';

export type RunOutcome = { detached: string | undefined } | { status: number };

/** podman's check of --preserve-fds: each fd handed on must be one our caller gave us, not one node opened. */
export function checkPreservedFds(count: number, isInherited: (fd: number) => boolean): void {
  for (let fd = 3; fd < 3 + count; fd++) {
    if (!isInherited(fd)) {
      throw new HutchError(
        `file descriptor ${fd} is not available - the preserve-fds option requires that file descriptors must be passed`,
        { hint: `open fds 3 to ${2 + count} for hutch (e.g. 3<FILE), or lower --preserve-fds` },
      );
    }
  }
}

class Discard extends Writable {
  override _write(_chunk: unknown, _encoding: BufferEncoding, done: () => void): void {
    done();
  }
}

/** The caller's stdio with the output streams -a leaves out going nowhere. */
function attachedStdio(stdio: Stdio, streams: RunFlags['attach']): Stdio {
  if (streams.length === 0) return stdio;
  return {
    get stdin() {
      return stdio.stdin;
    },
    stdinFd: stdio.stdinFd,
    stdout: streams.includes('stdout') ? stdio.stdout : new Discard(),
    stderr: streams.includes('stderr') ? stdio.stderr : new Discard(),
  };
}

export async function run(
  flags: RunFlags,
  stdio: Stdio,
  reporting: CreateReporting,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunOutcome> {
  if (flags.preserveFds > 0) checkPreservedFds(flags.preserveFds, isInheritedFd);
  const runtime = await openRuntime(env);
  const container = await createContainer(runtime, flags, reporting, env);
  // With a restart policy the monitor's exit command cleans up, and restarts.
  const restarts = container.config.options.restartPolicy !== undefined;
  let started;
  try {
    started = await startContainer(runtime, container, {
      attach: !flags.detach,
      terminalSize: terminalSize(stdio.stdout),
      takeCleanup: !flags.detach && !restarts,
      ...(flags.preserveFds > 0 ? { preserveFds: flags.preserveFds } : {}),
    });
  } catch (error) {
    await cleanupContainer(runtime, container.config.id).catch(() => undefined);
    throw error;
  }
  if (flags.detach) {
    // podman prints no id for passthrough: the container's output goes to our stdout.
    return { detached: container.config.options.log?.driver !== 'passthrough' ? container.config.id : undefined };
  }
  if (flags.attach.length > 0 && !flags.attach.includes('stdout') && !flags.attach.includes('stderr')) {
    stdio.stdout.write(`${container.config.id}\n`);
  }
  const status = await attach(runtime, container, started.client, attachedStdio(stdio, flags.attach), {
    tty: flags.tty,
    interactive: flags.interactive,
  });
  await cleanupContainer(runtime, container.config.id);
  started.client?.cleanupDone();
  return { status };
}
