/** `hutch ps`: the containers (running ones, or all with -a), for src/cli to list as podman does. */
import { openRuntime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';

export async function ps(options: { all: boolean }): Promise<Container[]> {
  const runtime = await openRuntime();
  return runtime.containers.list().filter((c) => options.all || c.state.status === 'running');
}
