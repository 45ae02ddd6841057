/** `hutch kill`: a signal (a name or number, checked before anything) to each container; --all: the running ones. */
import { openRuntime, parseSignal, signalContainer } from '../run/container/lifecycle.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type TargetOptions } from './targets.js';

export interface KillOptions extends TargetOptions {
  signal: string;
}

export async function* kill(options: KillOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  const number = parseSignal(options.signal);
  const runtime = await openRuntime();
  const targets = selectTargets(runtime, options, { allOf: (c) => c.state.status === 'running' });
  yield* eachTarget(targets, async (container) => signalContainer(container, number));
}
