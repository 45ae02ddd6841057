/**
 * The restart policy at work: run by the monitor's exit command (`hutch
 * container cleanup ID`) once the exit is recorded. It runs in the process
 * the old monitor became, and starts the container with a new monitor, whose
 * exit command does the same at the next exit: the chain of monitors is what
 * keeps a container with `--restart always` up, with no daemon.
 */
import { RestartCancelled, startContainer, type Runtime } from './lifecycle.js';
import { policyRestarts, restartDelayMs } from './restart-state.js';

/**
 * Starts the container again when its policy says so (after the back-off of
 * restartDelayMs). Looks again after the wait, under the start's lock: a stop,
 * kill, rm or start meanwhile wins. Returns whether it restarted it.
 */
export async function restartByPolicy(runtime: Runtime, id: string): Promise<boolean> {
  const exited = runtime.containers.read(id);
  if (exited === undefined || !policyRestarts(exited)) return false;
  const delay = restartDelayMs(exited);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const current = runtime.containers.read(id);
  if (current === undefined) return false;
  try {
    await startContainer(runtime, current, { attach: false, byPolicy: true });
  } catch (error) {
    if (error instanceof RestartCancelled) return false;
    throw error;
  }
  return true;
}
