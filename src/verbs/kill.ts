/** `hutch kill`: a signal (a name or number, checked before anything) to each container. */
import { openRuntime, parseSignal, signalContainer } from '../run/container/lifecycle.js';
import { eachName, type Outcome } from './outcomes.js';

export async function* kill(names: readonly string[], signal: string): AsyncGenerator<Outcome<void>, void, undefined> {
  const number = parseSignal(signal);
  const runtime = await openRuntime();
  yield* eachName(names, async (name) => signalContainer(runtime.containers.find(name), number));
}
