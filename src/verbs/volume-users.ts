/** The volumes of the store the verbs act on, and which containers use each (the container store tells). */
import { openRuntime } from '../run/container/lifecycle.js';
import { removeVolumeUsers, volumeUsers } from '../run/container/users.js';
import type { VolumeUsers } from '../run/volumes.js';

export interface OpenVolumes {
  storage: string;
  usedBy: VolumeUsers;
  /** Force-removes the containers that use the volume (`volume rm -f`). */
  removeUsers(name: string): Promise<void>;
}

export async function openVolumes(env: NodeJS.ProcessEnv = process.env): Promise<OpenVolumes> {
  const runtime = await openRuntime(env);
  return {
    storage: runtime.paths.storage,
    usedBy: volumeUsers(runtime),
    removeUsers: (name) => removeVolumeUsers(runtime, name),
  };
}
