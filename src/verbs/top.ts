/**
 * `hutch top CONTAINER [DESCRIPTOR…]`: the container's processes as a table
 * of psgo's columns (rows of cells, the header first), or, for descriptors
 * psgo does not know, ps(1) run in the container through an exec session
 * with its output relayed to stdio (its status comes back), as podman does.
 */
import { HutchError } from '../errors.js';
import type { Stdio } from '../run/container/attach.js';
import { execInContainer } from '../run/container/exec.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { containerProcesses, namesFor, parseDescriptors, topTable } from '../run/container/top.js';

export type TopOutcome = { table: string[][] } | { status: number };

export async function top(
  name: string,
  words: string[],
  stdio: Stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TopOutcome> {
  const runtime = await openRuntime(env);
  const container = runtime.containers.find(name);
  if (container.state.status !== 'running') throw new HutchError('top can only be used on running containers');
  const descriptors = parseDescriptors(words);
  if (descriptors === undefined) {
    const outcome = await execInContainer(runtime, container, stdio, {
      command: ['ps', ...words],
      interactive: false,
      tty: false,
      detach: false,
      user: undefined,
      workdir: undefined,
      privileged: false,
      extraEnv: [],
    });
    return { status: 'status' in outcome ? outcome.status : 0 };
  }
  return { table: topTable(containerProcesses(container), descriptors, namesFor(container)) };
}
