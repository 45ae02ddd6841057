/** `hutch rm`: the containers named (or every one with -a), running ones only with -f. */
import { HutchError } from '../errors.js';
import { openRuntime, removeContainer } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export interface RmOptions {
  force: boolean;
  all: boolean;
  /** Their anonymous volumes too. */
  volumes: boolean;
}

/** Yields each container as named (its id with -a). */
export async function* rm(
  names: readonly string[],
  options: RmOptions,
): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  const targets = options.all ? runtime.containers.list().map((c) => c.config.id) : names;
  if (targets.length === 0 && !options.all)
    throw new HutchError('no containers given', { hint: 'hutch rm NAME…, or -a for all' });
  yield* eachName(targets, (name) => removeContainer(runtime, runtime.containers.find(name), options));
}
