/** `hutch rename CONTAINER NAME`: a new name for a container, unique like every name (podman's errors). */
import { openRuntime } from '../run/container/lifecycle.js';

export async function rename(nameOrId: string, newName: string): Promise<void> {
  const runtime = await openRuntime();
  await runtime.containers.rename(nameOrId, newName);
}
