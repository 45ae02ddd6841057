/** `hutch container exists NAME`: whether a container has that name or id (the CLI turns it into exit 0 or 1). */
import { openRuntime } from '../run/container/lifecycle.js';
import { NoSuchContainerError } from '../run/container/store.js';

export async function containerExists(nameOrId: string): Promise<boolean> {
  const runtime = await openRuntime();
  try {
    runtime.containers.find(nameOrId);
    return true;
  } catch (error) {
    if (error instanceof NoSuchContainerError) return false;
    throw error;
  }
}
