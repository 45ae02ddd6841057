/**
 * `hutch exec`: a new process in a running container, its I/O relayed to
 * stdio (its status comes back: the command's, 126/127 when it cannot be
 * run), or detached (the session's id comes back).
 */
import { isAbsolute } from 'node:path';
import { HutchError } from '../errors.js';
import type { Stdio } from '../run/container/attach.js';
import { collectEnv } from '../run/container/create.js';
import { execInContainer, type ExecFlags, type ExecOutcome } from '../run/container/exec.js';
import { openRuntime } from '../run/container/lifecycle.js';

export async function exec(flags: ExecFlags, stdio: Stdio, env: NodeJS.ProcessEnv = process.env): Promise<ExecOutcome> {
  if (flags.command.length === 0) throw new HutchError('exec: give the command to run after the container');
  if (flags.workdir !== undefined && !isAbsolute(flags.workdir)) {
    throw new HutchError(`invalid --workdir ${JSON.stringify(flags.workdir)}: the directory must be an absolute path`);
  }
  // Checked before the session is entered: a bad -e or --env-file is the user's, not the container's.
  const extraEnv = collectEnv(flags, env);
  const runtime = await openRuntime(env);
  const container = runtime.containers.find(flags.container);
  return execInContainer(runtime, container, stdio, { ...flags, extraEnv });
}
