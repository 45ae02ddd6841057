/** `hutch create`: a container made from an image and the flags, not started; returns its id. */
import { openRuntime } from '../run/container/lifecycle.js';
import { createContainer, type CreateFlags, type CreateReporting } from '../run/container/create.js';

export async function create(flags: CreateFlags, reporting: CreateReporting): Promise<string> {
  const runtime = await openRuntime();
  return (await createContainer(runtime, flags, reporting)).config.id;
}
