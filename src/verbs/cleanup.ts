/**
 * `hutch container cleanup`: what the monitor runs when a container exits:
 * its exit recorded, its mounts and network undone, and with --rm its removal;
 * then, when its --restart policy says so, the container started again
 * (src/run/container/auto-restart.ts).
 */
import { restartByPolicy } from '../run/container/auto-restart.js';
import { cleanupContainer, openRuntime } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export async function* cleanup(names: readonly string[]): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  yield* eachName(names, async (name) => {
    const found = runtime.containers.list().find((c) => c.config.id === name || c.config.name === name);
    // Gone already (removed by an attached client with --rm): nothing to clean.
    if (found === undefined) return;
    await cleanupContainer(runtime, found.config.id);
    await restartByPolicy(runtime, found.config.id);
  });
}
